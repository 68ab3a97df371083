namespace RnnAd.Examples

/// NumPy's legacy generator (`np.random.seed(s)` then `np.random.randn`): the Mersenne Twister MT19937 seeded
/// by its `init_genrand`, 53-bit doubles from two 32-bit words, and normal draws by the polar method, the second
/// of each pair kept for the next call. A seed written in NumPy can so start from the very weights its
/// notebook drew, and RnnAd can reproduce the notebook's printed numbers instead of only its phenomena.
[<RequireQualifiedAccess>]
module NumPyRandom =

    /// The first `count` numbers `np.random.randn` returns after `np.random.seed(seed)`, in order (row-major
    /// when NumPy fills an array); bit for bit NumPy's where both take `log` from the same C library (checked
    /// against NumPy 1.24 on Linux).
    let standardNormal (seed: uint32) (count: int) : float[] =
        if count < 0 then invalidArg "count" (sprintf "the number of draws must be non-negative, got %d" count)
        let n, m = 624, 397
        let key = Array.zeroCreate<uint32> n
        key.[0] <- seed
        for i in 1 .. n - 1 do
            key.[i] <- 1812433253u * (key.[i - 1] ^^^ (key.[i - 1] >>> 30)) + uint32 i
        // NumPy seeds with the position at the end, so the first draw regenerates the whole key.
        let mutable position = n
        let nextWord () =
            if position = n then
                let twist (y: uint32) = (y >>> 1) ^^^ (if y &&& 1u = 1u then 0x9908b0dfu else 0u)
                for i in 0 .. n - 1 do
                    let y = (key.[i] &&& 0x80000000u) ||| (key.[(i + 1) % n] &&& 0x7fffffffu)
                    key.[i] <- key.[(i + m) % n] ^^^ twist y
                position <- 0
            let mutable y = key.[position]
            position <- position + 1
            y <- y ^^^ (y >>> 11)
            y <- y ^^^ ((y <<< 7) &&& 0x9d2c5680u)
            y <- y ^^^ ((y <<< 15) &&& 0xefc60000u)
            y ^^^ (y >>> 18)
        let nextDouble () =
            let high = nextWord () >>> 5
            let low = nextWord () >>> 6
            (float high * 67108864.0 + float low) / 9007199254740992.0
        let draws = Array.zeroCreate count
        let mutable i = 0
        while i < count do
            // A point uniform in the unit disc (rejecting the rest) gives two independent normals.
            let x1 = 2.0 * nextDouble () - 1.0
            let x2 = 2.0 * nextDouble () - 1.0
            let r2 = x1 * x1 + x2 * x2
            if r2 < 1.0 && r2 <> 0.0 then
                let f = sqrt (-2.0 * log r2 / r2)
                draws.[i] <- f * x2
                if i + 1 < count then draws.[i + 1] <- f * x1
                i <- i + 2
        draws

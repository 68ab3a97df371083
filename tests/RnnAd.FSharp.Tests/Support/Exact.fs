namespace RnnAd.FSharp.Tests

open System
open System.Numerics

/// Reference values of elementary functions in exact integer arithmetic, independent of every floating-point
/// routine: a real is a BigInteger n standing for n·2⁻¹²⁰⁰. Every double, subnormals included, converts
/// exactly; sums are exact and each product or quotient truncates by one unit, 2⁻¹²⁰⁰ ≈ 1e-361, so over a
/// few thousand operations a value of magnitude ≥ 1e-300 keeps about 60 correct digits, far below the
/// 1.1e-16 of an ulp. Series are summed until their terms vanish at that resolution.
[<RequireQualifiedAccess>]
module Exact =

    /// Bits after the binary point.
    [<Literal>]
    let private Bits = 1200

    /// 1 in this representation.
    let one = BigInteger.One <<< Bits

    /// An integer.
    let ofInt (n: int) : BigInteger = BigInteger n <<< Bits

    /// a·b, truncated to the resolution.
    let mul (a: BigInteger) (b: BigInteger) : BigInteger = (a * b) >>> Bits

    /// a/b, truncated to the resolution.
    let div (a: BigInteger) (b: BigInteger) : BigInteger = (a <<< Bits) / b

    /// The exact value of a finite double.
    let ofFloat (x: float) : BigInteger =
        if not (Double.IsFinite x) then invalidArg "x" (sprintf "%g has no exact value" x)
        let bits = BitConverter.DoubleToInt64Bits x
        let biased = int ((bits >>> 52) &&& 0x7FFL)
        let fraction = bits &&& 0xFFFFFFFFFFFFFL
        let mantissa, exponent = if biased = 0 then fraction, -1074 else fraction ||| (1L <<< 52), biased - 1075
        let m = BigInteger mantissa <<< (exponent + Bits)
        if bits < 0L then -m else m

    /// Σ of a series from its first term, `next n t` giving term n from term n − 1, until a term is 0.
    let private series (first: BigInteger) (next: int -> BigInteger -> BigInteger) : BigInteger =
        let mutable term, sum, n = first, BigInteger.Zero, 0
        while not term.IsZero do
            sum <- sum + term
            n <- n + 1
            term <- next n term
        sum

    /// atan(1/k) = Σ (−1)ⁿ/((2n+1)·k^(2n+1)).
    let private atanOfInverse (k: int) =
        let mutable power, sum, n = one / BigInteger k, BigInteger.Zero, 0
        while not power.IsZero do
            let term = power / BigInteger(2 * n + 1)
            sum <- if n % 2 = 0 then sum + term else sum - term
            power <- power / BigInteger(k * k)
            n <- n + 1
        sum

    /// π by Machin's formula, π = 16·atan(1/5) − 4·atan(1/239).
    let pi = BigInteger 16 * atanOfInverse 5 - BigInteger 4 * atanOfInverse 239

    /// √a for a ≥ 0: Newton's iteration on integers, from above.
    let sqrt (a: BigInteger) : BigInteger =
        let n = a <<< Bits
        let mutable x = BigInteger.One <<< (int (n.GetBitLength()) / 2 + 1)
        let mutable y = (x + n / x) >>> 1
        while y < x do
            x <- y
            y <- (x + n / x) >>> 1
        x

    /// ln 2 = Σ_(k≥1) 1/(k·2ᵏ).
    let ln2 = series (one >>> 1) (fun n t -> t * BigInteger n / BigInteger(2 * (n + 1)))

    /// eʸ: y = k·ln 2 + r with |r| ≤ ln 2 / 2, then e^r from its Taylor series, times 2ᵏ.
    let exp (y: BigInteger) : BigInteger =
        let k = BigInteger.Divide(y + (ln2 >>> 1), ln2)
        let k = if y + (ln2 >>> 1) < BigInteger.Zero then k - BigInteger.One else k
        let r = y - k * ln2
        let er = series one (fun n t -> mul t r / BigInteger n)
        if k.Sign >= 0 then er <<< int k else er >>> int -k

    /// ln(1 + x) for x > −1: its series x − x²/2 + … for |x| ≤ 1/2; otherwise 1 + x = 2ˢ·m with m ∈ [1, 2),
    /// and ln m = 2·atanh((m − 1)/(m + 1)).
    let log1p (x: BigInteger) : BigInteger =
        if BigInteger.Abs x <= (one >>> 1) then
            let mutable power, sum, n = x, BigInteger.Zero, 1
            while not power.IsZero do
                sum <- sum + power / BigInteger n
                power <- -(mul power x)
                n <- n + 1
            sum
        else
            let y = one + x
            if y.Sign <= 0 then invalidArg "x" "ln(1 + x) needs x > −1"
            let s = int (y.GetBitLength()) - 1 - Bits
            let m = if s >= 0 then y >>> s else y <<< -s
            let z = div (m - one) (m + one)
            let z2 = mul z z
            let atanh = series z (fun n t -> mul t z2 * BigInteger(2 * n - 1) / BigInteger(2 * n + 1))
            BigInteger 2 * atanh + BigInteger s * ln2

    /// ln y for y > 0.
    let log (y: BigInteger) : BigInteger = log1p (y - one)

    /// erf x = (2/√π)·Σ (−1)ⁿ·x^(2n+1)/(n!·(2n+1)); the alternating terms reach e^(x²) in size, which costs
    /// digits only below the resolution for the |x| ≤ 6 tested.
    let erf (x: BigInteger) : BigInteger =
        let x2 = mul x x
        let mutable power, sum, n = x, BigInteger.Zero, 0
        while not power.IsZero do
            sum <- sum + power / BigInteger(2 * n + 1)
            n <- n + 1
            power <- -(mul power x2) / BigInteger n
        div (mul (ofInt 2) sum) (sqrt pi)

    /// a/b as a double, for a ratio near 1 or below (64 significant bits, then rounded).
    let ratio (a: BigInteger) (b: BigInteger) : float = float ((a <<< 64) / b) / 18446744073709551616.0

    /// The double nearest to the value, within an ulp (read off its top 64 bits).
    let toFloat (a: BigInteger) : float =
        let shift = int (BigInteger.Abs(a).GetBitLength()) - 64
        let top = if shift > 0 then a >>> shift else a <<< -shift
        Math.ScaleB(float top, shift - Bits)

    /// |got − exact| in units of the last place of got.
    let ulpError (got: float) (exact: BigInteger) : float =
        let ulp = Math.BitIncrement(abs got) - abs got
        ratio (BigInteger.Abs(ofFloat got - exact)) (ofFloat ulp)

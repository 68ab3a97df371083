namespace RnnAd.FSharp.Tests

open RnnAd
open System
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Storage

/// Test helpers: seeded random data, centred finite differences and tolerance checks that report the
/// worst entry, so a failure says where and by how much.
[<RequireQualifiedAccess>]
module Check =

    /// Uniform values in [low, high) of a shape, from a seed.
    let uniform (seed: int) (low: float) (high: float) (shape: int[]) : Tensor = Tensor.RandomUniform(seed, shape, low, high)

    /// Values of |x| ≥ margin with random signs: keeps finite-difference steps away from kinks at 0.
    let awayFromZero (seed: int) (margin: float) (shape: int[]) : Tensor =
        let u = (uniform seed -1.0 1.0 shape).ToArray()
        Tensor.OfArray(shape, u |> Array.map (fun v -> float (sign v) * (margin + abs v)))

    /// Centred finite differences of a scalar function of several inputs, with respect to input `which`.
    /// The step is 1e-6 scaled to the entry's magnitude, the usual balance between truncation (O(h²))
    /// and rounding (O(ε/h)) errors in float64.
    let finiteDifference (f: Tensor[] -> float) (xs: Tensor[]) (which: int) : float[] =
        let x = xs.[which].ToArray()
        Array.init x.Length (fun i ->
            let h = 1e-6 * max 1.0 (abs x.[i])
            let at (delta: float) =
                let moved = Array.copy x
                moved.[i] <- x.[i] + delta
                f (Array.updateAt which (Tensor.OfArray(xs.[which].Shape, moved)) xs)
            (at h - at -h) / (2.0 * h))

    /// Entry-wise |a − b| ≤ rel·max(|a|, |b|) + abs; fails naming the worst entry.
    let close (what: string) (rel: float) (abs': float) (expected: float[]) (actual: float[]) : unit =
        Expect.equal actual.Length expected.Length (sprintf "%s: lengths differ" what)
        let mutable worst = -1
        let mutable worstExcess = 0.0
        for i in 0 .. expected.Length - 1 do
            let e, a = expected.[i], actual.[i]
            let allowed = rel * max (abs e) (abs a) + abs'
            let err = abs (e - a)
            if not (err <= allowed) && (worst < 0 || err - allowed > worstExcess || Double.IsNaN err) then
                worst <- i
                worstExcess <- err - allowed
        if worst >= 0 then
            failtestf "%s: entry %d is %.17g, expected %.17g (|diff| %.3g exceeds %.3g·max + %.3g)"
                what worst actual.[worst] expected.[worst] (abs (actual.[worst] - expected.[worst])) rel abs'

    /// Exact equality of values and shape.
    let exact (what: string) (expectedShape: int[]) (expected: float[]) (actual: Tensor) : unit =
        Expect.equal actual.Shape expectedShape (sprintf "%s: shape" what)
        Expect.equal (actual.ToArray()) expected (sprintf "%s: values" what)

    /// Raises unless `f` throws an ArgumentException whose message contains every fragment.
    let throwsWith (fragments: string list) (f: unit -> 'a) : unit =
        let message =
            try
                f () |> ignore
                None
            with :? ArgumentException as e -> Some e.Message
        match message with
        | None -> failtestf "expected an ArgumentException mentioning %A, nothing was thrown" fragments
        | Some m ->
            for fragment in fragments do
                Expect.stringContains m fragment "the error message names what is at fault"

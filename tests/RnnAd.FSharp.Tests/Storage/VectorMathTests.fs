module RnnAd.FSharp.Tests.Storage.VectorMathTests

open System
open Expecto
open RnnAd.FSharp.Storage

// The reference is System.Decimal (28–29 significant digits), independent of any double routine: a double
// is converted exactly (mantissa times powers of 2) and exp comes from its Taylor series and a 28-digit e.
// Decimal resolves 1e-28 absolute, so over the ranges tested (results of magnitude ≥ 2e-9) the reference is
// good to 1e-19 relative, far below the 1.1e-16 of an ulp: the measured ulp errors are the functions' own.

/// The value of a double as a decimal, exact up to decimal's precision.
let private toDecimal (x: float) : decimal =
    let bits = BitConverter.DoubleToInt64Bits x
    let biased = int ((bits >>> 52) &&& 0x7FFL)
    let fraction = bits &&& 0xFFFFFFFFFFFFFL
    let mantissa, exponent = if biased = 0 then fraction, -1074 else fraction ||| (1L <<< 52), biased - 1075
    let mutable d = decimal mantissa
    for _ in 1 .. abs exponent do
        d <- if exponent > 0 then d * 2m else d / 2m
    if bits < 0L then -d else d

/// e to 28 digits.
let private e = 2.7182818284590452353602874714m

/// eʸ = e^⌊y⌋ · e^(y − ⌊y⌋), the second factor from 40 Taylor terms (the 41st is below 1e-49).
let private expDecimal (y: decimal) : decimal =
    let whole = Math.Floor y
    let f = y - whole
    let mutable term, sum = 1m, 1m
    for i in 1 .. 40 do
        term <- term * f / decimal i
        sum <- sum + term
    let mutable power = 1m
    for _ in 1 .. int (abs whole) do
        power <- if whole > 0m then power * e else power / e
    sum * power

let private tanhExact (x: float) = let e2 = expDecimal (2m * toDecimal x) in (e2 - 1m) / (e2 + 1m)
let private sigmoidExact (x: float) = 1m / (1m + expDecimal (-(toDecimal x)))

/// |got − exact| in units of got's last place.
let private ulpError (got: float) (exact: decimal) =
    float (abs (toDecimal got - exact)) / (Math.BitIncrement(abs got) - abs got)

/// n arguments of both signs with |x| log-uniform in [lo, hi], from a fixed seed.
let private arguments (seed: int) (lo: float) (hi: float) (n: int) =
    let rng = Random seed
    Array.init n (fun _ -> (if rng.Next 2 = 0 then 1.0 else -1.0) * Math.Exp(Math.Log lo + (Math.Log hi - Math.Log lo) * rng.NextDouble()))

let private worstUlp (f: float -> float) (exact: float -> decimal) (xs: float[]) =
    xs |> Array.map (fun x -> ulpError (f x) (exact x), x) |> Array.maxBy fst

let private bitsEqual (a: float) (b: float) = BitConverter.DoubleToInt64Bits a = BitConverter.DoubleToInt64Bits b

[<Tests>]
let tests =
    testList "Storage/vector math" [
        // Round-to-nearest would be 0.5 ulp; the bound 1 ulp leaves room for the polynomial and reduction
        // errors (measured: 0.69 ulp for tanh, 0.58 for the logistic). glibc's tanh measures 2.1 ulp on the
        // same arguments, so `Math.Tanh` could not serve as the reference.
        test "tanh is within an ulp of the exact value on 1e-3 ≤ |x| ≤ 20" {
            let worst, x = worstUlp VectorMath.tanh tanhExact (arguments 1 1e-3 20.0 20000)
            Expect.isLessThanOrEqual worst 1.0 (sprintf "%.3f ulp at x = %.17g" worst x)
        }
        test "the logistic function is within an ulp of the exact value on 1e-3 ≤ |x| ≤ 20" {
            let worst, x = worstUlp VectorMath.sigmoid sigmoidExact (arguments 2 1e-3 20.0 20000)
            Expect.isLessThanOrEqual worst 1.0 (sprintf "%.3f ulp at x = %.17g" worst x)
        }
        test "tails: tanh x = x for tiny x and ±1 from 19.1; the logistic's far tail is eˣ" {
            for x in arguments 3 1e-300 1e-9 200 do
                Expect.isTrue (bitsEqual (VectorMath.tanh x) x) (sprintf "tanh %g" x)
            for x in arguments 4 19.1 1e300 200 do
                Expect.equal (VectorMath.tanh x) (float (Math.Sign x)) (sprintf "tanh %g" x)
            // For x ≤ −40, σ(x) = eˣ/(1 + eˣ) equals eˣ to 4e-18 relative; subnormal results included.
            for x in arguments 5 40.0 745.0 500 |> Array.map (fun x -> -(abs x)) do
                let got, expected = VectorMath.sigmoid x, Math.Exp x
                Expect.isLessThanOrEqual (abs (got - expected)) (Math.BitIncrement expected - expected) (sprintf "σ(%g)" x)
            Expect.equal (VectorMath.sigmoid -746.0) 0.0 "σ(−746) underflows to 0"
            Expect.equal (VectorMath.sigmoid 40.0) 1.0 "σ(40) rounds to 1"
        }
        test "special values: signed zeros, infinities, NaN, subnormals" {
            Expect.isTrue (bitsEqual (VectorMath.tanh 0.0) 0.0) "tanh +0 = +0"
            Expect.isTrue (bitsEqual (VectorMath.tanh -0.0) -0.0) "tanh −0 = −0"
            Expect.equal (VectorMath.tanh Double.PositiveInfinity) 1.0 "tanh ∞"
            Expect.equal (VectorMath.tanh Double.NegativeInfinity) -1.0 "tanh −∞"
            Expect.isTrue (bitsEqual (VectorMath.tanh -Double.Epsilon) -Double.Epsilon) "tanh of the smallest subnormal"
            Expect.equal (VectorMath.sigmoid 0.0) 0.5 "σ(0)"
            Expect.equal (VectorMath.sigmoid -0.0) 0.5 "σ(−0)"
            Expect.equal (VectorMath.sigmoid Double.PositiveInfinity) 1.0 "σ(∞)"
            Expect.equal (VectorMath.sigmoid Double.NegativeInfinity) 0.0 "σ(−∞)"
            Expect.isTrue (Double.IsNaN(VectorMath.tanh nan) && Double.IsNaN(VectorMath.sigmoid nan)) "NaN stays NaN"
        }
        test "in place over any length gives each element the scalar function's bits" {
            let rng = Random 6
            for length in 0 .. 13 do
                let xs = Array.init length (fun _ -> rng.NextDouble() * 12.0 - 6.0)
                for f, inPlace in [ VectorMath.tanh, (fun (a: float[]) -> VectorMath.tanhInPlace (Span a))
                                    VectorMath.sigmoid, (fun (a: float[]) -> VectorMath.sigmoidInPlace (Span a)) ] do
                    let ys = Array.copy xs
                    inPlace ys
                    for i in 0 .. length - 1 do
                        Expect.isTrue (bitsEqual ys.[i] (f xs.[i])) (sprintf "length %d, element %d" length i)
            // A span in the middle of an array leaves its neighbours alone.
            let buffer = Array.init 11 float
            VectorMath.tanhInPlace (buffer.AsSpan(2, 5))
            Expect.equal buffer.[.. 1] [| 0.0; 1.0 |] "before the span"
            Expect.equal buffer.[7 ..] [| 7.0; 8.0; 9.0; 10.0 |] "after the span"
        }
    ]

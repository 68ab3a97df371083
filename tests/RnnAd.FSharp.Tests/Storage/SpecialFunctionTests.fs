module RnnAd.FSharp.Tests.Storage.SpecialFunctionTests

open System
open Expecto
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests

// erf, ln(1 + x) and eˣ − 1 against `Exact`, which computes them in integer arithmetic to ~60 digits: the
// measured errors, in ulps of the result, are the kernels' own. Round-to-nearest would be 0.5 ulp; the bounds
// below are the stated accuracy of each kernel with a little room over the worst error measured on these
// arguments (given beside each).

/// n arguments of random sign with |x| log-uniform in [lo, hi], from a fixed seed.
let private logUniform (seed: int) (lo: float) (hi: float) (n: int) =
    let rng = Random seed
    Array.init n (fun _ -> (if rng.Next 2 = 0 then 1.0 else -1.0) * Math.Exp(Math.Log lo + (Math.Log hi - Math.Log lo) * rng.NextDouble()))

/// n arguments uniform in [lo, hi), from a fixed seed.
let private uniform (seed: int) (lo: float) (hi: float) (n: int) =
    let rng = Random seed
    Array.init n (fun _ -> lo + (hi - lo) * rng.NextDouble())

/// The largest error in ulps over the arguments, and where.
let private worstUlp (f: float -> float) (exact: float -> Numerics.BigInteger) (xs: float[]) =
    xs |> Array.map (fun x -> Exact.ulpError (f x) (exact x), x) |> Array.maxBy fst

let private expectWithin (bound: float) (what: string) (worst: float, x: float) =
    Expect.isLessThanOrEqual worst bound (sprintf "%s: %.3f ulp at x = %.17g" what worst x)

let private bitsEqual (a: float) (b: float) = BitConverter.DoubleToInt64Bits a = BitConverter.DoubleToInt64Bits b

let private erfExact (x: float) = Exact.erf (Exact.ofFloat x)
let private log1pExact (x: float) = Exact.log1p (Exact.ofFloat x)
let private expm1Exact (x: float) = Exact.exp (Exact.ofFloat x) - Exact.one

[<Tests>]
let reference =
    testList "Storage/special functions: the exact reference" [
        test "matches tabulated values to 30 digits" {
            // Published 30-digit values of π, ln 2, e⁻¹, erf ½, erf 1, erf 2 and ln 10.
            let digits (v: Numerics.BigInteger) = (v * Numerics.BigInteger.Pow(Numerics.BigInteger 10, 30) / Exact.one).ToString()
            Expect.equal (digits Exact.pi) "3141592653589793238462643383279" "π"
            Expect.equal (digits Exact.ln2) "693147180559945309417232121458" "ln 2"
            Expect.equal (digits (Exact.exp (Exact.ofInt -1))) "367879441171442321595523770161" "e⁻¹"
            Expect.equal (digits (Exact.erf (Exact.one / Numerics.BigInteger 2))) "520499877813046537682746653891" "erf ½"
            Expect.equal (digits (Exact.erf Exact.one)) "842700792949714869341220635082" "erf 1"
            Expect.equal (digits (Exact.erf (Exact.ofInt 2))) "995322265018952734162069256367" "erf 2"
            Expect.equal (digits (Exact.log (Exact.ofInt 10))) "2302585092994045684017991454684" "ln 10"
        }
    ]

[<Tests>]
let erf =
    testList "Storage/special functions: erf" [
        // Measured: 0.67 ulp below |x| = 1/2 (the Taylor branch: q's rounding), 0.59 ulp on the expansions
        // about x₀ = 1/2 + k/8.
        test "is within 0.75 ulp on 1e-300 ≤ |x| < 1/2" {
            expectWithin 0.75 "erf" (worstUlp SpecialFunctions.erf erfExact (Array.append (logUniform 1 1e-300 0.5 600) (uniform 2 -0.5 0.5 1200)))
        }
        test "is within 0.65 ulp on 1/2 ≤ |x| < 6" {
            expectWithin 0.65 "erf" (worstUlp SpecialFunctions.erf erfExact (uniform 3 -6.0 6.0 2000 |> Array.filter (fun x -> abs x >= 0.5)))
        }
        test "the branch edges: just below and at 1/2, at each centre and half-way between, near 6" {
            let edges = [| yield Math.BitDecrement 0.5; yield 0.5; yield 5.9; yield Math.BitDecrement 6.0
                           for k in 0 .. 44 do
                               yield 0.5 + float k / 8.0
                               yield Math.BitDecrement(0.5 + float k / 8.0 + 1.0 / 16.0)
                               yield 0.5 + float k / 8.0 + 1.0 / 16.0 |]
            expectWithin 0.75 "erf" (worstUlp SpecialFunctions.erf erfExact edges)
        }
        test "special values: signed zeros, tiny and subnormal x, the tails, NaN" {
            Expect.isTrue (bitsEqual (SpecialFunctions.erf 0.0) 0.0) "erf +0 = +0"
            Expect.isTrue (bitsEqual (SpecialFunctions.erf -0.0) -0.0) "erf −0 = −0"
            expectWithin 1.5 "erf" (Exact.ulpError (SpecialFunctions.erf 1e-300) (erfExact 1e-300), 1e-300)
            // The smallest subnormal 2⁻¹⁰⁷⁴: 1.128·2⁻¹⁰⁷⁴ rounds to 2⁻¹⁰⁷⁴ itself.
            Expect.equal (SpecialFunctions.erf Double.Epsilon) Double.Epsilon "erf of the smallest subnormal"
            // 1 − erf 6 = 2.2e-17 is below half an ulp of 1 (5.6e-17): erf rounds to 1 from 5.87 on.
            Expect.equal (SpecialFunctions.erf 6.0) 1.0 "erf 6"
            Expect.equal (SpecialFunctions.erf -1e300) -1.0 "erf −1e300"
            Expect.equal (SpecialFunctions.erf Double.PositiveInfinity) 1.0 "erf ∞"
            Expect.equal (SpecialFunctions.erf Double.NegativeInfinity) -1.0 "erf −∞"
            Expect.isTrue (Double.IsNaN(SpecialFunctions.erf nan)) "NaN stays NaN"
        }
    ]

[<Tests>]
let log1p =
    testList "Storage/special functions: log1p" [
        // Measured: 0.93 ulp (the ln u branch: Math.Log's own error plus the correction's).
        test "is within 1 ulp on 1e-300 ≤ x ≤ 1e6 and −1 < x ≤ −1e-300" {
            let xs = Array.concat [ logUniform 4 1e-300 1e6 1500 |> Array.map abs
                                    logUniform 5 1e-300 0.999999 1500 |> Array.map (fun x -> -(abs x))
                                    uniform 6 -0.99 2.0 600 ]
            expectWithin 1.0 "log1p" (worstUlp SpecialFunctions.log1p log1pExact xs)
        }
        test "the issue's points: 1e-10, 1e-300, −0.5, 1e6, and the series' edge 2⁻¹⁰" {
            for x in [ 1e-10; -1e-10; 1e-300; -0.5; 1e6; 0.0009765625; Math.BitDecrement 0.0009765625; -0.0009765625 ] do
                expectWithin 1.0 "log1p" (Exact.ulpError (SpecialFunctions.log1p x) (log1pExact x), x)
            // ln(1 + 1e-300) = 1e-300 − 5e-601: the double 1e-300 itself. ln ½ = −ln 2 = −0.69314718055994530942.
            Expect.equal (SpecialFunctions.log1p 1e-300) 1e-300 "log1p 1e-300"
            Expect.equal (SpecialFunctions.log1p -0.5) -0.69314718055994530942 "log1p −0.5"
        }
        test "special values: signed zeros, −1, below −1, infinities, NaN" {
            Expect.isTrue (bitsEqual (SpecialFunctions.log1p 0.0) 0.0) "+0"
            Expect.isTrue (bitsEqual (SpecialFunctions.log1p -0.0) -0.0) "−0"
            Expect.equal (SpecialFunctions.log1p -1.0) Double.NegativeInfinity "ln 0 = −∞"
            Expect.isTrue (Double.IsNaN(SpecialFunctions.log1p -1.5)) "below −1: NaN"
            Expect.equal (SpecialFunctions.log1p Double.PositiveInfinity) Double.PositiveInfinity "∞"
            Expect.isTrue (Double.IsNaN(SpecialFunctions.log1p Double.NegativeInfinity)) "−∞: NaN"
            Expect.isTrue (Double.IsNaN(SpecialFunctions.log1p nan)) "NaN"
            Expect.equal (SpecialFunctions.log1p Double.MaxValue) 709.78271289338397 "ln of the largest double"
        }
    ]

[<Tests>]
let expm1 =
    testList "Storage/special functions: expm1" [
        // Measured: 0.69 ulp, near x = ±ln2/2 where expm1(r)'s own third of an ulp weighs most; the sum
        // 2ᵏ·expm1(r) + (2ᵏ − 1) is carried exactly but for its last rounding.
        test "is within 0.75 ulp on 1e-300 ≤ |x| ≤ 709" {
            let xs = Array.append (logUniform 7 1e-300 709.0 3000) (uniform 8 -1.5 1.5 3000)
            expectWithin 0.75 "expm1" (worstUlp VectorMath.expm1 expm1Exact xs)
        }
        test "the issue's points and the edges of its ranges" {
            for x in [ 1e-10; -1e-10; 1e-300; -0.5; 709.78; -37.0; -40.0; 42.0; 43.0; 0.34657359027997264 ] do
                expectWithin 0.75 "expm1" (Exact.ulpError (VectorMath.expm1 x) (expm1Exact x), x)
            // e^(−½) − 1 = −0.39346934028736657640
            Expect.equal (VectorMath.expm1 -0.5) -0.39346934028736657640 "expm1 −0.5"
            Expect.equal (VectorMath.expm1 1e-300) 1e-300 "expm1 1e-300 = 1e-300 + 5e-601"
        }
        test "special values: signed zeros, overflow, the −1 tail, infinities, NaN" {
            Expect.isTrue (bitsEqual (VectorMath.expm1 0.0) 0.0) "+0"
            Expect.isTrue (bitsEqual (VectorMath.expm1 -0.0) -0.0) "−0"
            Expect.isTrue (bitsEqual (VectorMath.expm1 -Double.Epsilon) -Double.Epsilon) "the smallest subnormal"
            // e^709.78 = 1.797e308 is the largest finite range; e^710 overflows.
            Expect.isTrue (Double.IsFinite(VectorMath.expm1 709.78)) "709.78 is finite"
            Expect.equal (VectorMath.expm1 710.0) Double.PositiveInfinity "710 overflows"
            Expect.equal (VectorMath.expm1 1e6) Double.PositiveInfinity "1e6 overflows"
            Expect.equal (VectorMath.expm1 Double.PositiveInfinity) Double.PositiveInfinity "∞"
            // e⁻⁴⁰ = 4e-18 is below a quarter-ulp of 1 (5.6e-17/2): the result rounds to −1.
            Expect.equal (VectorMath.expm1 -40.0) -1.0 "−40"
            Expect.equal (VectorMath.expm1 -1e300) -1.0 "−1e300"
            Expect.equal (VectorMath.expm1 Double.NegativeInfinity) -1.0 "−∞"
            Expect.isTrue (Double.IsNaN(VectorMath.expm1 nan)) "NaN"
        }
        test "in place over any length gives each element the scalar function's bits" {
            let rng = Random 9
            for length in 0 .. 9 do
                let xs = Array.init length (fun _ -> rng.NextDouble() * 80.0 - 40.0)
                let ys = Array.copy xs
                VectorMath.expm1InPlace (Span ys)
                for i in 0 .. length - 1 do
                    Expect.isTrue (bitsEqual ys.[i] (VectorMath.expm1 xs.[i])) (sprintf "length %d, element %d" length i)
        }
    ]

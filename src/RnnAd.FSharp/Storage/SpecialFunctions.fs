namespace RnnAd.FSharp.Storage

open System

/// Scalar special functions that .NET lacks or computes inaccurately: the error function, and ln(1 + x)
/// accurate for tiny x (`Double.LogP1` is ln(1 + x) itself, which keeps no digit of an x below 1e-16).
/// Tests measure both against 60-digit values computed by exact integer arithmetic.
[<RequireQualifiedAccess>]
module SpecialFunctions =

    /// 2/√π = 1.12837916709551257389615890312154517… as a double-double: Hi is the nearest double and Lo
    /// the remainder, rounded.
    [<Literal>]
    let private TwoOverSqrtPiHi = 1.1283791670955126
    [<Literal>]
    let private TwoOverSqrtPiLo = 1.5335459613165878e-17
    /// 1/√π
    [<Literal>]
    let private InvSqrtPi = 0.56418958354775628

    /// 1/(n!·(2n+1)) for n = 0..14: the Taylor coefficients of erf x·√π/(2x) in −x². The first term left
    /// out, x³⁰/(15!·31), is below 3e-23 for |x| < 1/2.
    let private taylor =
        Array.init 15 (fun n -> 1.0 / (List.fold (fun f k -> f * float k) 1.0 [ 1 .. n ] * float (2 * n + 1)))

    /// The centres of the expansions used on 1/2 ≤ |x| < 6: x₀ = 1/2 + k/8, k = 0..44.
    let private centre (k: int) = 0.5 + float k / 8.0

    /// Terms of each expansion about a centre: 13 (the first omitted, at |h| ≤ 1/16, is below 1e-19).
    [<Literal>]
    let private Terms = 13

    /// erfc x₀ from Laplace's continued fraction √π·e^(x₀²)·erfc x₀ = 1/(x₀ + (1/2)/(x₀ + 1/(x₀ + (3/2)/(x₀ + …)))),
    /// evaluated from the 4000th level up: every level adds positive terms, so rounding errors shrink on the
    /// way up, and 4000 levels converge to below 1e-20 relative for x₀ ≥ 1. Used only to build the table.
    let private erfcByContinuedFraction (x0: float) =
        let mutable f = x0
        for k in 4000 .. -1 .. 1 do
            f <- x0 + (float k / 2.0) / f
        Math.Exp(-(x0 * x0)) * InvSqrtPi / f

    /// erf x₀ as a double-double (hi, lo). For x₀ ≥ 1 it is 1 − erfc x₀, split exactly (Fast2Sum), so it
    /// carries erfc x₀'s error, a few ulps of a number below 0.16: under 0.03 ulp of erf x₀. Below 1 the
    /// continued fraction converges too slowly and 1 − erfc would cancel, so the four centres there hold
    /// 36-digit values, 0.520499877813046537682746653891964528, 0.623240882188417972448640505876790274,
    /// 0.711155633653515131598937834591410777 and 0.784075061059859658314535717898849362 (from the series,
    /// summed in exact arithmetic), split into the nearest double and the rest.
    let private erfAtCentre (k: int) : struct (float * float) =
        match k with
        | 0 -> struct (0.52049987781304652, 1.9000774679162868e-17)
        | 1 -> struct (0.623240882188418, -2.7016816836135294e-17)
        | 2 -> struct (0.71115563365351508, 4.6974407716428899e-17)
        | 3 -> struct (0.78407506105985969, -3.2045449788903482e-17)
        | _ ->
            let erfc = erfcByContinuedFraction (centre k)
            let hi = 1.0 - erfc
            struct (hi, (1.0 - hi) - erfc)

    /// For each centre x₀: erf x₀ as a double-double (hi, lo), and the coefficients d_n of
    /// erf(x₀ + h) = erf x₀ + Σ_n d_n·h^(n+1), where d_n = (2/√π)·e^(−x₀²)·(−1)ⁿ·H_n(x₀)/(n+1)!, since the
    /// (n+1)-th derivative of erf is (2/√π)·(−1)ⁿ·H_n(x)·e^(−x²) (H_n the physicists' Hermite polynomials,
    /// H_(n+1) = 2x·H_n − 2n·H_(n−1)).
    let private table =
        Array.init 45 (fun k ->
            let x0 = centre k
            let struct (hi, lo) = erfAtCentre k
            let scale = TwoOverSqrtPiHi * Math.Exp(-(x0 * x0))
            let d = Array.zeroCreate Terms
            let mutable hermite, previous, factorial = 1.0, 0.0, 1.0
            for n in 0 .. Terms - 1 do
                factorial <- factorial * float (n + 1)
                d.[n] <- scale * (if n % 2 = 0 then hermite else -hermite) / factorial
                let next = 2.0 * x0 * hermite - 2.0 * float n * previous
                previous <- hermite
                hermite <- next
            struct (hi, lo, d))

    /// The error function erf x = (2/√π)·∫₀ˣ e^(−t²) dt, odd, within 0.75 ulp of the exact value (measured:
    /// 0.67 ulp below |x| = 1/2, 0.59 above).
    /// - |x| < 1/2: its Taylor series x·(2/√π)·(1 + q), q = Σ_(n≥1) (−x²)ⁿ/(n!(2n+1)) ∈ [−0.08, 0]; 2/√π·x is
    ///   carried as a double-double so only q's rounding and the final addition remain.
    /// - 1/2 ≤ |x| < 6: the Taylor expansion about the nearest centre x₀ = 1/2 + k/8, |x − x₀| ≤ 1/16, onto
    ///   erf x₀ held as a double-double: the result is within about half an ulp.
    /// - |x| ≥ 6: ±1, since 1 − erf 6 = 2.2e-17 is below half an ulp of 1.
    let erf (x: float) : float =
        let a = Math.Abs x
        let r =
            if a < 0.5 then
                let u = -(a * a)
                let mutable p = taylor.[taylor.Length - 1]
                for n in taylor.Length - 2 .. -1 .. 1 do
                    p <- Math.FusedMultiplyAdd(p, u, taylor.[n])
                let hi = TwoOverSqrtPiHi * a
                let lo = Math.FusedMultiplyAdd(TwoOverSqrtPiHi, a, -hi) + TwoOverSqrtPiLo * a
                hi + Math.FusedMultiplyAdd(hi, p * u, lo)
            elif a < 6.0 then
                let k = int ((a - 0.5) * 8.0 + 0.5)
                let struct (hi, lo, d) = table.[k]
                // exact: a and x₀ are within a factor 2 of each other (Sterbenz)
                let h = a - centre k
                let mutable p = d.[Terms - 1]
                for n in Terms - 2 .. -1 .. 0 do
                    p <- Math.FusedMultiplyAdd(p, h, d.[n])
                hi + Math.FusedMultiplyAdd(p, h, lo)
            elif a >= 6.0 then 1.0
            else a // NaN
        Math.CopySign(r, x)

    /// ln(1 + x), within an ulp of the exact value for every x > −1 (measured: 0.93 ulp); −∞ at −1, NaN
    /// below. For |x| < 2⁻¹⁰ it sums the series x − x²/2 + … + x⁷/7 (the next term is below 2⁻⁷³·|x|);
    /// otherwise it corrects ln u, u = 1 + x rounded, by the first-order term of ln(1 + x) = ln u + ln(1 − c/u),
    /// where c = u − (1 + x) is u's rounding error, computed exactly.
    let log1p (x: float) : float =
        if Math.Abs x < 0.0009765625 then
            let p = -0.5 + x * (1.0 / 3.0 + x * (-0.25 + x * (0.2 + x * (-1.0 / 6.0 + x * (1.0 / 7.0)))))
            Math.FusedMultiplyAdd(x * x, p, x)
        elif Double.IsPositiveInfinity x then x
        else
            let u = 1.0 + x
            // exact: the subtraction of the two values nearest each other first (Fast2Sum)
            let c = if x > 1.0 then (u - x) - 1.0 else (u - 1.0) - x
            if c = 0.0 then Math.Log u else Math.Log u - c / u

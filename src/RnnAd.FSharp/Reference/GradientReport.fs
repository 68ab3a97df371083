namespace RnnAd.FSharp.Reference

open RnnAd
open System
open System.Globalization
open System.Text
open RnnAd.FSharp
open RnnAd.FSharp.Storage

/// How close two gradients must be: every entry within |a − b| / max(|a|, |b|, Floor) ≤ Relative.
/// `Floor` is the smallest denominator: docs/ARCHITECTURE.md §7.2's 1e-300 makes the test purely relative; a larger floor
/// judges entries smaller than it by the absolute error Relative·Floor instead.
type GradientTolerance =
    { /// The largest relative error allowed per entry.
      Relative: float
      /// The smallest denominator of the relative error.
      Floor: float }

    /// AD vs hand-derived BPTT (docs/ARCHITECTURE.md §7.2): the same algebra in a different order, so 1e-10 relative per
    /// entry, purely relative.
    static member AdVsBptt: GradientTolerance = { Relative = 1e-10; Floor = 1e-300 }

    /// AD vs BPTT with a rounding-noise floor of 1e-5 (entries below it may differ by 1e-15 absolute). Some
    /// entries are tiny only because large terms cancel (softmax − one-hot at a saturated prediction, sums of
    /// mixed signs); there both sides carry a few ε of the terms' scale as noise and no relative bound holds.
    /// Measured over 2000 random models (hidden ≤ 16, time ≤ 40): 14 entries in 10 models exceeded 1e-10
    /// purely relative, all with |a − b| ≤ 2.7e-17 (≤ 2.6e-16 of their tensor's largest entry); every entry
    /// below 1e-5 agreed to 5.9e-17. This floor accepts them all with a 17× margin, while checking everything
    /// above 1e-5 purely relatively; it cannot see errors in entries below 1e-5 (deeply vanished gradients).
    static member AdVsBpttFloored: GradientTolerance = { Relative = 1e-10; Floor = 1e-5 }

    /// Either exact gradient vs centred finite differences (docs/ARCHITECTURE.md §7.2): 1e-6 relative. The finite
    /// differences' own error is about ε·|L|/h ≈ 1e-10·|L| absolute (rounding) plus h²·|f'''| (truncation),
    /// so an entry smaller than about 1e-4 cannot be checked to 1e-6 relative; the floor 1e-2 lets such
    /// entries pass with an absolute error up to 1e-8, the bound the cell tests use too. Measured over 300
    /// small random models: largest |exact − FD| 3.1e-9, at a loss of 12; raise the floor in proportion for
    /// losses much above 10.
    static member FiniteDifferences: GradientTolerance = { Relative = 1e-6; Floor = 1e-2 }

/// The comparison of one named tensor between two gradients. Indices are multi-indices into `Shape`.
type GradientRow =
    { /// The tensor's name.
      Name: string
      /// The tensor's shape.
      Shape: int[]
      /// Largest |a − b| over the entries.
      MaxAbsoluteError: float
      /// Where MaxAbsoluteError occurs (empty for an empty tensor).
      MaxAbsoluteIndex: int[]
      /// Largest |a − b| / max(|a|, |b|, Floor) over the entries; +∞ where an entry is not finite.
      MaxRelativeError: float
      /// Where MaxRelativeError occurs (empty for an empty tensor).
      MaxRelativeIndex: int[]
      /// The left gradient's entry at MaxRelativeIndex.
      Left: float
      /// The right gradient's entry at MaxRelativeIndex.
      Right: float
      /// Whether MaxRelativeError is within the tolerance.
      Passed: bool }

/// A gradient check between two sources (e.g. "AD" and "BPTT"): one row per named tensor.
type GradientReport =
    { /// Name of the first gradient's source.
      LeftLabel: string
      /// Name of the second gradient's source.
      RightLabel: string
      /// The tolerance every row was judged by.
      Tolerance: GradientTolerance
      /// One row per named tensor, in the left gradient's order.
      Rows: GradientRow[]
      /// Whether every row passed.
      Passed: bool }

    /// The largest relative error over all rows (0 without rows).
    member r.MaxRelativeError: float = r.Rows |> Array.fold (fun m row -> max m row.MaxRelativeError) 0.0

    /// The rows that failed.
    member r.FailedRows: GradientRow[] = r.Rows |> Array.filter (fun row -> not row.Passed)

    /// The report as an aligned text table, one line per named tensor under a verdict line.
    member r.ToTable() : string =
        let index (i: int[]) = "[" + String.Join(", ", i) + "]"
        let error (e: float) = e.ToString("0.000e+00", CultureInfo.InvariantCulture)
        let value (v: float) = v.ToString("R", CultureInfo.InvariantCulture)
        let header = [| "tensor"; "shape"; "max |a-b|"; "at"; "max rel"; "at"; r.LeftLabel; r.RightLabel; "ok" |]
        let lines =
            r.Rows |> Array.map (fun row ->
                [| row.Name; Shape.format row.Shape; error row.MaxAbsoluteError; index row.MaxAbsoluteIndex
                   error row.MaxRelativeError; index row.MaxRelativeIndex; value row.Left; value row.Right
                   (if row.Passed then "yes" else "NO") |])
        let all = Array.append [| header |] lines
        let widths = Array.init header.Length (fun c -> all |> Array.map (fun l -> l.[c].Length) |> Array.max)
        let text = StringBuilder()
        text.AppendLine(
            sprintf "%s vs %s: %s (every entry |a-b| / max(|a|, |b|, %s) <= %s; worst %s)"
                r.LeftLabel r.RightLabel (if r.Passed then "PASS" else "FAIL") (error r.Tolerance.Floor) (error r.Tolerance.Relative) (error r.MaxRelativeError)) |> ignore
        for l in all do
            text.AppendLine(String.Join("  ", Array.mapi (fun c (s: string) -> s.PadRight widths.[c]) l).TrimEnd()) |> ignore
        text.ToString()

/// Building gradient reports.
[<RequireQualifiedAccess>]
module GradientReport =

    /// The multi-index of a row-major flat index.
    let private unravel (shape: int[]) (flat: int) : int[] =
        let index = Array.zeroCreate shape.Length
        let mutable rest = flat
        for d in shape.Length - 1 .. -1 .. 0 do
            index.[d] <- rest % shape.[d]
            rest <- rest / shape.[d]
        index

    /// One row: the worst absolute and relative errors of two tensors of the same shape.
    let compareTensor (tolerance: GradientTolerance) (name: string) (left: Tensor) (right: Tensor) : GradientRow =
        let a, b = left.ToArray(), right.ToArray()
        let mutable worstAbs, worstAbsAt, worstRel, worstRelAt = 0.0, -1, 0.0, -1
        for i in 0 .. a.Length - 1 do
            let x, y = a.[i], b.[i]
            let finite = Double.IsFinite x && Double.IsFinite y
            let absolute = if finite then abs (x - y) else Double.PositiveInfinity
            let relative = if finite then absolute / max (max (abs x) (abs y)) tolerance.Floor else Double.PositiveInfinity
            if worstAbsAt < 0 || absolute > worstAbs then
                worstAbs <- absolute
                worstAbsAt <- i
            if worstRelAt < 0 || relative > worstRel then
                worstRel <- relative
                worstRelAt <- i
        { Name = name
          Shape = Array.copy left.Shape
          MaxAbsoluteError = worstAbs
          MaxAbsoluteIndex = (if worstAbsAt < 0 then [||] else unravel left.Shape worstAbsAt)
          MaxRelativeError = worstRel
          MaxRelativeIndex = (if worstRelAt < 0 then [||] else unravel left.Shape worstRelAt)
          Left = (if worstRelAt < 0 then 0.0 else a.[worstRelAt])
          Right = (if worstRelAt < 0 then 0.0 else b.[worstRelAt])
          Passed = worstRel <= tolerance.Relative }

    /// Compares two gradients name by name (rows in `left`'s order). Both must hold the same names with the
    /// same shapes; otherwise raises naming the tensors at fault.
    let compare (leftLabel: string) (rightLabel: string) (tolerance: GradientTolerance) (left: NamedTensors) (right: NamedTensors) : GradientReport =
        if isNull (box left) then nullArg "left"
        if isNull (box right) then nullArg "right"
        if not (tolerance.Relative >= 0.0) then invalidArg "tolerance" (sprintf "Relative must be non-negative, got %g" tolerance.Relative)
        if not (tolerance.Floor > 0.0) then invalidArg "tolerance" (sprintf "Floor must be positive, got %g" tolerance.Floor)
        let missing (from: NamedTensors) (other: NamedTensors) = from.Names |> Array.filter (fun n -> not (other.Contains n))
        let onlyLeft, onlyRight = missing left right, missing right left
        if onlyLeft.Length > 0 || onlyRight.Length > 0 then
            invalidArg "right"
                (sprintf "%s and %s gradients name different tensors: only in %s [%s], only in %s [%s]"
                    leftLabel rightLabel leftLabel (String.Join(", ", onlyLeft)) rightLabel (String.Join(", ", onlyRight)))
        let rows =
            left.Entries |> Array.map (fun (name, a) ->
                let b = right.[name]
                if not (Shape.equal a.Shape b.Shape) then
                    invalidArg "right" (sprintf "'%s' has shape %s in the %s gradient and %s in the %s gradient" name (Shape.format a.Shape) leftLabel (Shape.format b.Shape) rightLabel)
                compareTensor tolerance name a b)
        { LeftLabel = leftLabel
          RightLabel = rightLabel
          Tolerance = tolerance
          Rows = rows
          Passed = rows |> Array.forall (fun r -> r.Passed) }

    /// The report as an aligned text table (`GradientReport.ToTable`).
    let format (report: GradientReport) : string = report.ToTable()

namespace RnnAd.Cli

open RnnAd
open System
open System.Globalization
open System.Threading
open Argu
open RnnAd.FSharp
open RnnAd.FSharp.Reference
open RnnAd.FSharp.Storage

/// `rnnad gradcheck`: one model of the chosen cell and sizes on a seeded random batch; its gradients by
/// reverse-mode AD, by the hand-derived BPTT and optionally by finite differences, compared tensor by tensor.
[<RequireQualifiedAccess>]
module GradCheckCommand =

    let private error (e: float) = e.ToString("0.000e+00", CultureInfo.InvariantCulture)

    /// A report as a table under its verdict. Plain output has the columns of `GradientReport.ToTable` with
    /// every value round-trip exact; a terminal drops where the largest absolute error sits and shows the values
    /// to 10 significant digits, so the table fits about 110 columns.
    let private show (t: Terminal) (what: string) (r: GradientReport) =
        let index (i: int[]) = "[" + String.Join(", ", i) + "]"
        let compact = t.Rich.IsSome
        let value (v: float) = v.ToString((if compact then "G10" else "R"), CultureInfo.InvariantCulture)
        let title =
            sprintf "%s%s vs %s: %s (every entry |a-b| / max(|a|, |b|, %s) <= %s; worst %s)"
                what r.LeftLabel r.RightLabel (if r.Passed then "PASS" else "FAIL") (error r.Tolerance.Floor) (error r.Tolerance.Relative) (error r.MaxRelativeError)
        let ok (row: GradientRow) = if row.Passed then "yes" else "NO"
        if compact then
            Terminal.table t title
                [ "tensor", false; "shape", false; "max |a-b|", true; "max rel", true; "at", false; r.LeftLabel, true; r.RightLabel, true; "ok", false ]
                [ for row in r.Rows ->
                    [| row.Name; Shape.format row.Shape; error row.MaxAbsoluteError; error row.MaxRelativeError; index row.MaxRelativeIndex
                       value row.Left; value row.Right; ok row |] ]
        else
            Terminal.table t title
                [ "tensor", false; "shape", false; "max |a-b|", true; "at", false; "max rel", true; "at", false; r.LeftLabel, true; r.RightLabel, true; "ok", false ]
                [ for row in r.Rows ->
                    [| row.Name; Shape.format row.Shape; error row.MaxAbsoluteError; index row.MaxAbsoluteIndex
                       error row.MaxRelativeError; index row.MaxRelativeIndex; value row.Left; value row.Right; ok row |] ]
        Terminal.line t ""

    /// Runs the check; returns 0 when every comparison passed, 1 otherwise.
    let run (t: Terminal) (_: CancellationToken) (args: ParseResults<GradCheckArgs>) : int =
        let time = Options.positive "--time" (args.GetResult(GradCheckArgs.Time, 5))
        let batchSize = Options.positive "--batch" (args.GetResult(GradCheckArgs.Batch, 2))
        let features = Options.positive "--input" (args.GetResult(GradCheckArgs.Input, 3))
        let spec =
            { Cell = Cells.ofKind (Options.cell (args.GetResult(GradCheckArgs.Cell, "lstm")))
              Input = InputEncoding.Features features
              HiddenSize = Options.positive "--hidden" (args.GetResult(GradCheckArgs.Hidden, 4))
              Layers = Options.positive "--layers" (args.GetResult(GradCheckArgs.Layers, 1))
              Bidirectional = args.Contains GradCheckArgs.Bidirectional
              Dropout = 0.0
              Head = Options.head (args.GetResult(GradCheckArgs.Head, "per-step"))
              HeadHidden = []
              Outputs = Options.positive "--outputs" (args.GetResult(GradCheckArgs.Outputs, 3))
              Loss = Loss.crossEntropy }
        // Counted in floating point before anything is built: batch × time × features overflows int long
        // before it reaches a size no array holds.
        let values = float batchSize * float time * float features
        if values > float Array.MaxLength then
            Options.fail (sprintf "--batch %d × --time %d × --input %d make an input of %s values, more than one array holds (%s)"
                            batchSize time features (values.ToString("N0", CultureInfo.InvariantCulture)) (Array.MaxLength.ToString("N0", CultureInfo.InvariantCulture)))
        // AD and the hand-derived BPTT each keep every step's gates and states, forward and backward.
        let perStep =
            float spec.Layers * (if spec.Bidirectional then 2.0 else 1.0) * float spec.HiddenSize * float (Limits.gates spec.Cell + 3) + float features + 3.0 * float spec.Outputs
        Limits.checkModel spec
            { Hidden = sprintf "--hidden %d" spec.HiddenSize; Layers = sprintf "--layers %d" spec.Layers
              Input = sprintf "--input %d" features; Outputs = sprintf "--outputs %d" spec.Outputs }
            (sprintf "checking a batch of --batch %d × --time %d steps" batchSize time) (float batchSize * float time * perStep * 8.0 * 4.0)
            "lower --hidden, --layers, --batch or --time"
        let bptt = args.TryGetResult GradCheckArgs.Bptt |> Option.map (Options.positive "--bptt")
        let finiteDifferences = args.Contains GradCheckArgs.Finite_Differences
        match bptt with
        | Some k when finiteDifferences && k < time ->
            Options.fail (sprintf "--finite-differences see the untruncated gradient, so they cannot check --bptt %d < --time %d; drop one of them" k time)
        | _ -> ()
        let seed = args.GetResult(GradCheckArgs.Seed, 1)
        let ps = SequenceModel.init spec (Seed.derive seed "parameters")
        let targets =
            let count = match spec.Head with HeadKind.PerStep -> batchSize * time | HeadKind.LastStep -> batchSize
            (RawTensor.randomUniform (Seed.derive seed "targets") 0.0 1.0 [| count |]).ToArray()
            |> Array.map (fun u -> min (spec.Outputs - 1) (int (u * float spec.Outputs)))
        let batch =
            { Input = SequenceInput.Features(Tensor.RandomUniform(Seed.derive seed "inputs", [| batchSize; time; features |], -1.0, 1.0))
              Batch = batchSize
              Time = time
              Mask = None
              Targets = Targets.Classes(targets) }
        let options =
            { GradCheckOptions.Default with
                DetachEvery = bptt
                FiniteDifferences = finiteDifferences
                Tolerance = if args.Contains GradCheckArgs.Strict then GradientTolerance.AdVsBptt else GradientTolerance.AdVsBpttFloored }

        Terminal.heading t
            (sprintf "rnnad gradcheck: %s, %s of %d%s, %d input features, %d outputs %s; batch %d x %d steps; %s; seed %d"
                spec.Cell.Name (if spec.Layers = 1 then "1 layer" else sprintf "%d layers" spec.Layers) spec.HiddenSize
                (if spec.Bidirectional then " (bidirectional)" else "") features spec.Outputs
                (match spec.Head with HeadKind.PerStep -> "per step" | HeadKind.LastStep -> "at the last step")
                batchSize time (match bptt with Some k -> sprintf "BPTT truncated every %d steps" k | None -> "full BPTT") seed)
        let result = GradCheck.run spec ps options batch
        Terminal.line t
            (sprintf "loss: AD %s, BPTT %s (relative difference %s)"
                (result.Ad.Loss.ToString("R", CultureInfo.InvariantCulture)) (result.Bptt.Loss.ToString("R", CultureInfo.InvariantCulture)) (error result.LossRelativeError))
        Terminal.line t ""
        show t "parameters, " result.Parameters
        show t "dL/dh_t, " result.Hidden
        for report in result.FiniteDifferences do
            show t "parameters, " report
        let flows = result.BpttFlow
        let steps = flows |> Array.fold (fun m f -> max m f.Norms.Length) 0
        Terminal.table t "gradient flow ||dL/dh_t|| by BPTT, per layer and direction"
            (("t", true) :: [ for f in flows -> f.Name, true ])
            [ for step in 0 .. steps - 1 ->
                Array.append [| string step |] (flows |> Array.map (fun f -> if step < f.Norms.Length then error f.Norms.[step] else "")) ]
        Terminal.line t ""
        if result.Passed then
            Terminal.heading t "gradient check PASSED: AD agrees with the hand-derived BPTT everywhere."
            0
        else
            let failed =
                [ yield! result.Parameters.FailedRows |> Array.map (fun r -> "parameter " + r.Name)
                  yield! result.Hidden.FailedRows |> Array.map (fun r -> "hidden " + r.Name)
                  for report in result.FiniteDifferences do
                      yield! report.FailedRows |> Array.map (fun r -> sprintf "%s vs %s %s" report.LeftLabel report.RightLabel r.Name)
                  if result.LossRelativeError > options.Tolerance.Relative then yield "the loss" ]
            Terminal.heading t (sprintf "gradient check FAILED: %s." (String.Join(", ", failed)))
            1

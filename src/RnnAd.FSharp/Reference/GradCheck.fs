namespace RnnAd.FSharp.Reference

open System.Text
open RnnAd.FSharp

/// What a gradient check runs and how strictly it judges.
type GradCheckOptions =
    { /// Truncated BPTT window k (the AD side's `RunOptions.DetachEvery`); None for full BPTT.
      DetachEvery: int option
      /// Also compare both exact gradients with finite differences (two loss evaluations per parameter entry).
      FiniteDifferences: bool
      /// AD vs BPTT, for the loss, the parameter gradients and ∂L/∂h_t.
      Tolerance: GradientTolerance
      /// AD vs finite differences and BPTT vs finite differences.
      FiniteDifferenceTolerance: GradientTolerance }

    /// Full BPTT, no finite differences; AD vs BPTT to 1e-10 relative with entries below 1e-5 checked to
    /// 1e-15 absolute (rounding noise on entries made tiny by cancellation fails a purely relative test on
    /// ~0.5% of random models; `GradientTolerance.AdVsBptt` is that purely relative test).
    static member Default: GradCheckOptions =
        { DetachEvery = None
          FiniteDifferences = false
          Tolerance = GradientTolerance.AdVsBpttFloored
          FiniteDifferenceTolerance = GradientTolerance.FiniteDifferences }

/// Everything one gradient check found.
type GradientCheckResult =
    { /// Loss, gradients and ∂L/∂h_t by reverse-mode AD.
      Ad: SequenceGradients
      /// Loss, gradients and ∂L/∂h_t by the hand-derived BPTT.
      Bptt: SequenceGradients
      /// |L_AD − L_BPTT| / max(|L_AD|, |L_BPTT|, Tolerance.Floor).
      LossRelativeError: float
      /// AD vs BPTT over the parameters.
      Parameters: GradientReport
      /// AD vs BPTT over ∂L/∂h_t of every layer and direction.
      Hidden: GradientReport
      /// AD vs finite differences, then BPTT vs finite differences; empty unless asked for.
      FiniteDifferences: GradientReport[]
      /// ‖∂L/∂h_t‖ from AD.
      AdFlow: GradientFlow[]
      /// ‖∂L/∂h_t‖ from BPTT.
      BpttFlow: GradientFlow[]
      /// Whether the losses agree and every report passed.
      Passed: bool }

    /// Every report and the gradient flow as text.
    member r.ToText() : string =
        let text = StringBuilder()
        text.AppendLine(sprintf "loss: AD %s, BPTT %s (relative difference %s)" (r.Ad.Loss.ToString "R") (r.Bptt.Loss.ToString "R") (r.LossRelativeError.ToString "0.000e+00")) |> ignore
        text.AppendLine(r.Parameters.ToTable()) |> ignore
        text.AppendLine("dL/dh_t:") |> ignore
        text.AppendLine(r.Hidden.ToTable()) |> ignore
        for report in r.FiniteDifferences do
            text.AppendLine(report.ToTable()) |> ignore
        text.AppendLine("gradient flow ||dL/dh_t|| (BPTT):") |> ignore
        text.Append(GradientFlow.format r.BpttFlow) |> ignore
        text.AppendLine(if r.Passed then "gradient check PASSED" else "gradient check FAILED") |> ignore
        text.ToString()

/// One call that runs AD, the hand-derived BPTT and optionally finite differences on a model, parameters and
/// batch, and compares them.
[<RequireQualifiedAccess>]
module GradCheck =

    /// Runs the check (dropout off). Finite differences differentiate the untruncated loss, so they are
    /// refused together with a truncation window shorter than the batch's sequences.
    let run (spec: ModelSpec) (ps: NamedTensors) (options: GradCheckOptions) (batch: Minibatch) : GradientCheckResult =
        if isNull (box ps) then nullArg "ps"
        if isNull (box batch) then nullArg "batch"
        match Bptt.unsupported spec with
        | Some why -> invalidArg "spec" (why + "; compare AD with finite differences instead (GradCheck.againstFiniteDifferences)")
        | None -> ()
        match options.DetachEvery with
        | Some k when options.FiniteDifferences && k < batch.Time ->
            invalidArg "options"
                (sprintf "finite differences see the full gradient and cannot check truncated BPTT (DetachEvery %d < time %d); turn FiniteDifferences off or truncate at k >= %d" k batch.Time batch.Time)
        | _ -> ()
        let run = { RunOptions.Default with DetachEvery = options.DetachEvery }
        let bptt = Bptt.run spec ps run batch
        let ad = AdGradients.run spec ps run batch
        let lossError = abs (ad.Loss - bptt.Loss) / max (max (abs ad.Loss) (abs bptt.Loss)) options.Tolerance.Floor
        let parameters = GradientReport.compare "AD" "BPTT" options.Tolerance ad.Parameters bptt.Parameters
        let hidden = GradientReport.compare "AD" "BPTT" options.Tolerance ad.Hidden bptt.Hidden
        let fd =
            if options.FiniteDifferences then
                let g = FiniteDifferences.ofModel spec ps RunOptions.Default batch
                [| GradientReport.compare "AD" "FD" options.FiniteDifferenceTolerance ad.Parameters g
                   GradientReport.compare "BPTT" "FD" options.FiniteDifferenceTolerance bptt.Parameters g |]
            else [||]
        { Ad = ad
          Bptt = bptt
          LossRelativeError = lossError
          Parameters = parameters
          Hidden = hidden
          FiniteDifferences = fd
          AdFlow = GradientFlow.ofHidden ad.Hidden
          BpttFlow = GradientFlow.ofHidden bptt.Hidden
          Passed = lossError <= options.Tolerance.Relative && parameters.Passed && hidden.Passed && fd |> Array.forall (fun r -> r.Passed) }

    /// The check of a sequence model the hand-derived BPTT does not cover (a custom cell or loss): the loss,
    /// gradients and ∂L/∂h_t by AD, and the gradients compared with centred finite differences under
    /// `options.FiniteDifferenceTolerance`. Truncation is refused, since finite differences see the full gradient.
    let withoutReference (spec: ModelSpec) (ps: NamedTensors) (options: GradCheckOptions) (batch: Minibatch) : SequenceGradients * GradientReport =
        if isNull (box ps) then nullArg "ps"
        if isNull (box batch) then nullArg "batch"
        match options.DetachEvery with
        | Some k when k < batch.Time ->
            invalidArg "options" (sprintf "without the hand-derived BPTT only finite differences check this model, and they see the full gradient: truncation at %d < time %d cannot be checked" k batch.Time)
        | _ -> ()
        let ad = AdGradients.run spec ps RunOptions.Default batch
        ad, GradientReport.compare "AD" "FD" options.FiniteDifferenceTolerance ad.Parameters (FiniteDifferences.ofModel spec ps RunOptions.Default batch)

    /// The loss of any model value on a batch (dropout off) and its gradient by reverse-mode AD compared with
    /// centred finite differences: the check for models the hand-derived BPTT does not cover (custom cells
    /// and losses, models written from scratch).
    let againstFiniteDifferences (model: Model) (ps: NamedTensors) (tolerance: GradientTolerance) (batch: Minibatch) : float * GradientReport =
        if isNull (box ps) then nullArg "ps"
        if isNull (box batch) then nullArg "batch"
        Model.check model ps
        let loss (p: NamedTensors) = fst (Model.loss model p RunOptions.Default batch)
        let value, ad = Ad.Named.valueAndGrad loss ps
        let fd = FiniteDifferences.gradient (fun p -> (loss p).ToScalar()) ps
        value.ToScalar(), GradientReport.compare "AD" "FD" tolerance ad fd

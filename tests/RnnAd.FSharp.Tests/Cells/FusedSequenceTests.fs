module RnnAd.FSharp.Tests.Cells.FusedSequenceTests

open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Reference
open RnnAd.FSharp.Tests

// Sequence.run takes one fused op for the whole sequence (FusedSequence) in single-level training. Its
// definition is the readable step folded over time; FusedKernelCheck, the public contract check, holds a
// cell's kernel to it in value and gradient, with padding at the first, middle and last steps, truncation
// windows that do not divide the length, probes and a traced initial state. Its tolerances are stated at
// FusedKernelTolerance: values 1e-14 relative plus 1e-15 absolute, gradients 1e-12 relative plus 1e-15 absolute.
//
// Every built-in cell, with and without biases, passes it; and kernels broken on purpose, each a built-in one
// wrapped with a defect, fail it exactly where their defect shows.

let private expectPass (report: FusedKernelReport) =
    if not report.Passed then failtestf "%s" (report.ToTable())

let private kinds = [ CellKind.RnnTanh; CellKind.RnnRelu; CellKind.Lstm; CellKind.Gru ]

/// The situations (`FusedKernelReport.Rows.Case`) in which a report failed.
let private failedCases (report: FusedKernelReport) : Set<string> = report.FailedRows |> Array.map (fun r -> r.Case) |> Set.ofArray

let private isGradient (row: FusedKernelRow) = row.Quantity.StartsWith "∂L/∂"

/// A GRU kernel that feeds padding in as zero inputs instead of carrying the state over it: a common way to
/// get padding wrong.
let private paddingAsZeroInputs (kernel: SequenceKernel) : SequenceKernel =
    fun schedule p x init probes ->
        match schedule.Keep with
        | None -> kernel schedule p x init probes
        | Some keep ->
            let real = Tensor.OfArray([| x.Shape.[0]; x.Shape.[1]; 1 |], keep |> Array.map (fun k -> if k then 1.0 else 0.0))
            kernel { schedule with Keep = None } p (x * real) init probes

/// An LSTM kernel run in pieces between the steps where truncation cuts, the state between pieces detached,
/// but only its h when `cutC` is false: truncation that lets ∂L/∂c flow across the cut.
let private truncatedInPieces (cutC: bool) (kernel: SequenceKernel) : SequenceKernel =
    fun schedule p x init probes ->
        let batch, time = x.Shape.[0], x.Shape.[1]
        let edges = (0 :: [ for t in 1 .. time - 1 do if schedule.Cut t then t ]) @ [ time ]
        let mutable state = init
        let pieces = ResizeArray<Tensor>()
        for start, stop in List.pairwise edges do
            let length = stop - start
            if schedule.Cut start then
                state <- { Slots = [| Ad.stopGradient state.H; (if cutC then Ad.stopGradient state.Slots.[1] else state.Slots.[1]) |] }
            let keep = schedule.Keep |> Option.map (fun k -> Array.init (batch * length) (fun i -> k.[(i / length) * time + start + i % length]))
            let outputs, last =
                kernel { Keep = keep; Cut = fun _ -> false } p (x.Slice(1, start, length)) state (probes |> Option.map (fun ps -> ps.Slice(1, start, length)))
            pieces.Add outputs
            state <- last
        Tensor.Concat(List.ofSeq pieces, 1), state

/// The RNN's pointwise code reading its activation's derivative off h' as the next step reads it, which with
/// probes is act(pre) + probe, instead of off act(pre) itself.
let private readsProbedOutput (cell: PointwiseCell) : PointwiseCell =
    { new PointwiseCell with
        member _.Gates = cell.Gates
        member _.Slots = cell.Slots
        member _.SavedBlocks = cell.SavedBlocks
        member _.Split = cell.Split
        member _.OutputIsPre = cell.OutputIsPre
        member _.Forward row = cell.Forward row
        member _.Backward row =
            cell.Backward(BackwardRow(row.HNext, row.Recurrent, row.Saved, row.H, row.Rest, row.HNext, row.DHNext, row.DRest, row.DH, row.DPre, row.DRecurrent)) }

let private withKernel (cell: Cell) (kernel: SequenceKernel) : Cell = { cell with Fused = Some kernel }

let private padded = set [ "padding at the first, middle and last steps"; "padding, truncation every 3 steps from step 2"
                           "probes, padding, truncation every 3 steps from step 3 (the initial state cut)" ]
let private truncated = set [ "padding, truncation every 3 steps from step 2"; "probes, padding, truncation every 3 steps from step 3 (the initial state cut)" ]
let private probed = set [ "probes, padding, truncation every 3 steps from step 3 (the initial state cut)" ]

[<Tests>]
let tests =
    testList "Cells/fused sequence" [
        for kind in kinds do
            test (sprintf "%s: the fused kernel computes what the readable step folded over time computes" kind.Name) {
                expectPass (FusedKernelCheck.run (Cells.ofKind kind) 3 5 21)
            }
            test (sprintf "%s without biases: the fused kernel computes what the readable step folded over time computes" kind.Name) {
                expectPass (FusedKernelCheck.run (Cells.withoutBias kind) 3 5 22)
            }
        // Not the relu RNN: it does not saturate, its states grow to ~6 with these weights, and sums of such terms
        // cancelling to ~0.04 carry ~1e-13 relative rounding, beyond the value tolerance stated for values ≤ 1.
        for kind in [ CellKind.RnnTanh; CellKind.Lstm; CellKind.Gru ] do
            test (sprintf "%s: so it does with weights 3× PyTorch's initial range (saturating gates)" kind.Name) {
                let cell = Cells.ofKind kind
                expectPass (FusedKernelCheck.runWith cell (Cell.init cell 4 6 23 |> NamedTensors.map (fun _ t -> t * 3.0)) 4 6 24)
            }
        test "the check catches a GRU kernel that feeds padding in as zero inputs, in every padded situation" {
            let report = FusedKernelCheck.run (withKernel Cells.gru (paddingAsZeroInputs Cells.gru.Fused.Value)) 3 5 21
            Expect.isFalse report.Passed "the defect is caught"
            Expect.equal (failedCases report) padded "it fails where there is padding, and only there"
            Expect.isTrue (report.FailedRows |> Array.exists (fun r -> r.Quantity = "outputs")) "in the values themselves"
        }
        test "the check catches an LSTM kernel whose truncation lets ∂L/∂c through, in the truncated situations and in gradients only" {
            let honest = FusedKernelCheck.run (withKernel Cells.lstm (truncatedInPieces true Cells.lstm.Fused.Value)) 3 5 21
            expectPass honest // the pieces themselves are sound: what fails below is the defect
            let report = FusedKernelCheck.run (withKernel Cells.lstm (truncatedInPieces false Cells.lstm.Fused.Value)) 3 5 21
            Expect.isFalse report.Passed "the defect is caught"
            Expect.equal (failedCases report) truncated "it fails where truncation cuts, and only there"
            Expect.isTrue (report.FailedRows |> Array.forall isGradient) "values are right, gradients are not"
            Expect.isTrue (report.FailedRows |> Array.exists (fun r -> r.Quantity = "∂L/∂weight_hh")) "the recurrent weight's gradient shows it"
        }
        test "the check catches an RNN kernel that reads tanh' off h + probe, with probes and in gradients only" {
            for cell, pointwise in [ Cells.rnnTanh, FusedSequence.rnn false; Cells.rnnRelu, FusedSequence.rnn true ] do
                let report = FusedKernelCheck.run (withKernel cell (FusedSequence.kernel (readsProbedOutput pointwise) true)) 3 5 21
                Expect.isFalse report.Passed (sprintf "%s: the defect is caught" cell.Name)
                Expect.equal (failedCases report) probed (sprintf "%s: it fails with probes, and only there" cell.Name)
                Expect.isTrue (report.FailedRows |> Array.forall isGradient) (sprintf "%s: values are right, gradients are not" cell.Name)
        }
        test "the report names the cell, every situation and quantity, and its tolerances" {
            let report = FusedKernelCheck.run Cells.lstm 2 3 5
            let cases = report.Rows |> Array.map (fun r -> r.Case) |> Array.distinct
            Expect.equal cases.Length 5 "five situations"
            let quantities = report.Rows |> Array.filter (fun r -> r.Case = cases.[3]) |> Array.map (fun r -> r.Quantity)
            Expect.equal quantities
                [| "outputs"; "final h"; "final slot 1"; "∂L/∂weight_ih"; "∂L/∂weight_hh"; "∂L/∂bias_ih"; "∂L/∂bias_hh"; "∂L/∂x"
                   "∂L/∂initial h"; "∂L/∂initial slot 1"; "∂L/∂probes" |] "values, then the gradient of every input"
            let table = report.ToTable()
            for fragment in [ "cell 'LSTM'"; "PASS"; "1.000e-14"; "1.000e-12"; "1.000e-15"; cases.[3] ] do
                Expect.stringContains table fragment "the table says it"
        }
        test "the check refuses a cell without a fused kernel, and parameters that do not fit" {
            Check.throwsWith [ "cell"; "no fused kernel" ] (fun () -> FusedKernelCheck.run { Cells.gru with Fused = None } 3 5 1)
            Check.throwsWith [ "weight_ih"; "(12, 3)"; "(15, 3)" ] (fun () -> FusedKernelCheck.runWith Cells.gru (Cell.init Cells.gru 3 4 1) 3 5 1)
        }
    ]

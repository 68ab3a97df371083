namespace RnnAd.FSharp.Reference

open RnnAd
open System
open System.Globalization
open System.Text
open RnnAd.FSharp
open RnnAd.FSharp.Storage

/// How close a fused kernel must come to its cell's readable step folded over time, entry by entry:
/// |a − b| ≤ Rtol·max(|a|, |b|) + Atol (NumPy's `isclose` form, symmetric in a and b).
type FusedKernelTolerance =
    { /// The part of the bound proportional to the entries.
      Rtol: float
      /// The part of the bound for entries near zero.
      Atol: float }

    /// For values: 1e-14 relative plus 1e-15 absolute. The fused path forms the same products and sums in
    /// another order (every step's input projection at once, the two biases added as one sum), over values of
    /// magnitude ≤ 1 and seven steps: a few ulps apart. Terms much larger than the result they cancel to (an
    /// unbounded relu state with large weights) carry more rounding than that, relative to the result.
    static member Values: FusedKernelTolerance = { Rtol = 1e-14; Atol = 1e-15 }

    /// For gradients: 1e-12 relative plus 1e-15 absolute, about 10³ times the rounding these sums carry: an
    /// adjoint sums over steps and rows, which the kernel's products order differently from the fold's sweep.
    static member Gradients: FusedKernelTolerance = { Rtol = 1e-12; Atol = 1e-15 }

/// One comparison of a fused-kernel check: one quantity in one situation, judged by its worst entry.
type FusedKernelRow =
    { /// The situation (padding, truncation, probes, …).
      Case: string
      /// What is compared: `outputs`, `final state slot k`, or `∂L/∂…` of a parameter, of `x`, of an initial
      /// state slot or of the probes.
      Quantity: string
      /// The shape compared.
      Shape: int[]
      /// The bound the row is judged by.
      Tolerance: FusedKernelTolerance
      /// Largest |readable − fused| over the entries.
      MaxAbsoluteError: float
      /// Largest share of the bound an entry uses, |a − b| / (Rtol·max(|a|, |b|) + Atol); the row
      /// passes when it is at most 1. +∞ where an entry is finite on one side only.
      WorstShare: float
      /// Where WorstShare occurs, a multi-index into Shape.
      WorstIndex: int[]
      /// The readable fold's entry there.
      Readable: float
      /// The fused kernel's entry there.
      Fused: float
      /// Whether every entry is within the bound.
      Passed: bool }

/// A fused kernel held to its cell's readable step folded over time: one row per situation and quantity.
type FusedKernelReport =
    { /// The cell's name.
      Cell: string
      /// Every comparison, situation by situation.
      Rows: FusedKernelRow[]
      /// Whether every row passed.
      Passed: bool }

    /// The rows that failed.
    member r.FailedRows: FusedKernelRow[] = r.Rows |> Array.filter (fun row -> not row.Passed)

    /// The report as an aligned text table under a verdict line.
    member r.ToTable() : string =
        let number (v: float) = v.ToString("0.000e+00", CultureInfo.InvariantCulture)
        let value (v: float) = v.ToString("R", CultureInfo.InvariantCulture)
        let header = [| "case"; "quantity"; "shape"; "max |a-b|"; "worst share"; "at"; "readable"; "fused"; "ok" |]
        let lines =
            r.Rows |> Array.map (fun row ->
                [| row.Case; row.Quantity; Shape.format row.Shape; number row.MaxAbsoluteError; number row.WorstShare
                   "[" + String.Join(", ", row.WorstIndex) + "]"; value row.Readable; value row.Fused; (if row.Passed then "yes" else "NO") |])
        let all = Array.append [| header |] lines
        let widths = Array.init header.Length (fun c -> all |> Array.map (fun l -> l.[c].Length) |> Array.max)
        let text = StringBuilder()
        let bound (t: FusedKernelTolerance) = sprintf "|a-b| <= %s*max(|a|,|b|) + %s" (number t.Rtol) (number t.Atol)
        text.AppendLine(
            sprintf "fused kernel of cell '%s' vs its readable step folded over time: %s (values %s; gradients %s; share = |a-b| / bound)"
                r.Cell (if r.Passed then "PASS" else "FAIL") (bound FusedKernelTolerance.Values) (bound FusedKernelTolerance.Gradients)) |> ignore
        for l in all do
            text.AppendLine(String.Join("  ", Array.mapi (fun c (s: string) -> s.PadRight widths.[c]) l).TrimEnd()) |> ignore
        text.ToString()

/// The contract of a cell's fused kernel (`Cell.Fused`): it computes what the cell's readable step folded over
/// time computes (`Sequence.states`), in value and in gradient. The check runs the kernel itself, not
/// `Sequence.run`, on traced inputs: a batch of 4 sequences of 7 steps (1 in one case), a traced initial state,
/// padding at the first, middle and last steps, truncation windows of 3 steps that do not divide the length
/// (one of them cutting the initial state), and nonzero probes. It differentiates L = Σ outputs ⊙ W + Σ final
/// slots ⊙ Wₖ (fixed random W) with respect to every parameter, the inputs, the initial state and the probes.
[<RequireQualifiedAccess>]
module FusedKernelCheck =

    /// One situation: its name, its length, and its padding, truncation and probes.
    type private Case = { Name: string; Time: int; Mask: bool; Truncation: (int * int) option; Probes: bool }

    let private cases =
        [ { Name = "traced initial state"; Time = 7; Mask = false; Truncation = None; Probes = false }
          { Name = "padding at the first, middle and last steps"; Time = 7; Mask = true; Truncation = None; Probes = false }
          { Name = "padding, truncation every 3 steps from step 2"; Time = 7; Mask = true; Truncation = Some(3, 2); Probes = false }
          { Name = "probes, padding, truncation every 3 steps from step 3 (the initial state cut)"; Time = 7; Mask = true; Truncation = Some(3, 3); Probes = true }
          { Name = "one time step"; Time = 1; Mask = false; Truncation = None; Probes = false } ]

    let private batch = 4

    /// Rows: 0 unpadded, 1 padded at the end (the last step too), 2 padded at the start, 3 with holes.
    let private mask =
        [| 1.; 1.; 1.; 1.; 1.; 1.; 1.
           1.; 1.; 1.; 1.; 0.; 0.; 0.
           0.; 0.; 1.; 1.; 1.; 1.; 1.
           1.; 1.; 0.; 1.; 0.; 1.; 1. |]

    /// The row-major multi-index of a flat index.
    let private unravel (shape: int[]) (flat: int) : int[] =
        let index = Array.zeroCreate shape.Length
        let mutable rest = flat
        for d in shape.Length - 1 .. -1 .. 0 do
            index.[d] <- rest % shape.[d]
            rest <- rest / shape.[d]
        index

    /// One row: the two tensors entry by entry.
    let private compare (case: string) (quantity: string) (tolerance: FusedKernelTolerance) (readable: Tensor) (fused: Tensor) : FusedKernelRow =
        if not (Shape.equal readable.Shape fused.Shape) then
            invalidOp (sprintf "%s, %s: the fused kernel gives shape %s, the readable fold %s" case quantity (Shape.format fused.Shape) (Shape.format readable.Shape))
        let a, b = readable.ToArray(), fused.ToArray()
        let mutable maxError, worst, worstAt = 0.0, 0.0, 0
        for i in 0 .. a.Length - 1 do
            let error = abs (a.[i] - b.[i])
            let share =
                if a.[i] = b.[i] then 0.0 // equal infinities too
                elif Double.IsNaN a.[i] && Double.IsNaN b.[i] then 0.0
                elif Double.IsFinite error then error / (tolerance.Rtol * max (abs a.[i]) (abs b.[i]) + tolerance.Atol)
                else infinity
            if error > maxError then maxError <- error
            if share > worst then
                worst <- share
                worstAt <- i
        { Case = case; Quantity = quantity; Shape = readable.Shape; Tolerance = tolerance; MaxAbsoluteError = maxError; WorstShare = worst
          WorstIndex = (if a.Length = 0 then [||] else unravel readable.Shape worstAt)
          Readable = (if a.Length = 0 then 0.0 else a.[worstAt]); Fused = (if b.Length = 0 then 0.0 else b.[worstAt]); Passed = worst <= 1.0 }

    /// The name of initial state slot k in the rows.
    let private slotName (k: int) = if k = 0 then "h" else sprintf "slot %d" k

    /// The rows of one situation.
    let private runCase (cell: Cell) (kernel: SequenceKernel) (p: NamedTensors) (inputSize: int) (hiddenSize: int) (seed: int) (case: Case) : FusedKernelRow[] =
        let time = case.Time
        let draw label low high shape = Tensor.RandomUniform(Seed.derive seed label, shape, low, high)
        let slots = cell.StateSlots
        let keep = if case.Mask then Some mask else None
        let named =
            NamedTensors(
                Array.concat
                    [ p.Entries |> Array.map (fun (name, t) -> "parameter " + name, t)
                      [| "x", draw "x" -1.0 1.0 [| batch; time; inputSize |] |]
                      Array.init slots (fun k -> sprintf "initial %s" (slotName k), draw (sprintf "initial %d" k) -0.5 0.5 [| batch; hiddenSize |])
                      // nonzero, so that a kernel reading its activation's derivative off h + probe is caught
                      (if case.Probes then [| "probes", draw "probes" -0.3 0.3 [| batch; time; hiddenSize |] |] else [||]) ])
        let wOutputs = draw "outputs weight" -1.0 1.0 [| batch; time; hiddenSize |]
        let wSlots = Array.init slots (fun k -> draw (sprintf "slot %d weight" k) -1.0 1.0 [| batch; hiddenSize |])
        let cuts t = match case.Truncation with Some (every, start) -> start + t > 0 && (start + t) % every = 0 | None -> false
        // One side's run: (outputs, final state) from the parameters, inputs, initial state and probes.
        let side (run: NamedTensors -> Tensor -> CellState -> Tensor option -> Tensor * CellState) =
            let values = ref Unchecked.defaultof<Tensor[]>
            let loss (q: NamedTensors) =
                let parameters = NamedTensors(p.Names |> Array.map (fun name -> name, q.["parameter " + name]))
                let init = { Slots = Array.init slots (fun k -> q.[sprintf "initial %s" (slotName k)]) }
                let outputs, last = run parameters q.["x"] init (if case.Probes then Some q.["probes"] else None)
                if isNull (box last) || isNull last.Slots || last.Slots.Length <> slots then
                    invalidOp (sprintf "%s: a final state of %s slots, the cell '%s' declares %d" case.Name
                                   (if isNull (box last) || isNull last.Slots then "no" else string last.Slots.Length) cell.Name slots)
                values.Value <- Array.append [| outputs |] last.Slots
                Array.fold2 (fun (l: Tensor) (s: Tensor) (w: Tensor) -> l + (s * w).Sum()) ((outputs * wOutputs).Sum()) last.Slots wSlots
            let _, gradient = Ad.Named.valueAndGrad loss named
            values.Value, gradient
        let readableValues, readableGradient =
            side (fun q x init probes ->
                let options =
                    { SequenceOptions.Default with
                        Mask = keep |> Option.map (RawTensor.ofArray [| batch; time |])
                        DetachEvery = case.Truncation |> Option.map fst
                        StartStep = (match case.Truncation with Some (_, start) -> start | None -> 0)
                        Probes = probes |> Option.map (fun ps -> Array.init time (fun t -> ps.Select(1, t))) }
                let states = Sequence.states cell q init options x
                Tensor.Stack(states |> Array.map (fun s -> s.H), 1), Array.last states)
        let fusedValues, fusedGradient =
            side (fun q x init probes ->
                let schedule = { Keep = keep |> Option.map (Array.map (fun v -> v <> 0.0)); Cut = cuts }
                kernel schedule q x init probes)
        Array.append
            (Array.init (slots + 1) (fun k ->
                let quantity = if k = 0 then "outputs" else sprintf "final %s" (slotName (k - 1))
                compare case.Name quantity FusedKernelTolerance.Values readableValues.[k] fusedValues.[k]))
            (named.Names |> Array.map (fun name ->
                let quantity = "∂L/∂" + (if name.StartsWith "parameter " then name.Substring 10 else name)
                compare case.Name quantity FusedKernelTolerance.Gradients readableGradient.[name] fusedGradient.[name]))

    /// Checks a cell's fused kernel with the given parameters (under the cell's local names) for inputs of
    /// `inputSize` features and a state of `hiddenSize`; `seed` draws the inputs, initial states, probes and loss
    /// weights. Parameters of a trained model or scaled up reach the non-linear regime that initial ones may not.
    let runWith (cell: Cell) (parameters: NamedTensors) (inputSize: int) (hiddenSize: int) (seed: int) : FusedKernelReport =
        if isNull (box cell) then nullArg "cell"
        if isNull (box parameters) then nullArg "parameters"
        if inputSize <= 0 then invalidArg "inputSize" (sprintf "input size must be positive, got %d" inputSize)
        if hiddenSize <= 0 then invalidArg "hiddenSize" (sprintf "hidden size must be positive, got %d" hiddenSize)
        let kernel =
            match cell.Fused with
            | Some k -> k
            | None -> invalidArg "cell" (sprintf "cell '%s' has no fused kernel to check" cell.Name)
        for name, shape in Cell.parameterShapes cell inputSize hiddenSize do
            match parameters.TryFind name with
            | None -> invalidArg "parameters" (sprintf "parameter '%s' of cell '%s' is missing" name cell.Name)
            | Some t when not (Shape.equal t.Shape shape) ->
                invalidArg "parameters" (sprintf "parameter '%s' has shape %s, cell '%s' expects %s" name (Shape.format t.Shape) cell.Name (Shape.format shape))
            | Some _ -> ()
        let rows = cases |> List.toArray |> Array.collect (runCase cell kernel parameters inputSize hiddenSize seed)
        { Cell = cell.Name; Rows = rows; Passed = rows |> Array.forall (fun r -> r.Passed) }

    /// Checks a cell's fused kernel with parameters drawn by `Cell.init` from `seed`, which also draws the
    /// inputs, initial states, probes and loss weights.
    let run (cell: Cell) (inputSize: int) (hiddenSize: int) (seed: int) : FusedKernelReport =
        if isNull (box cell) then nullArg "cell"
        runWith cell (Cell.init cell inputSize hiddenSize seed) inputSize hiddenSize seed

namespace RnnAd.FSharp.Reference

open RnnAd
open System.Collections.Generic
open MathNet.Numerics.LinearAlgebra
open RnnAd.FSharp

/// The hand-derived backpropagation through time for whole sequence models, written without the AD
/// engine: MathNet matrices, explicit forward and backward equations (see Reference/RnnBackprop.fs,
/// LstmBackprop.fs, GruBackprop.fs, DirectionBackprop.fs and HeadBackprop.fs). It computes the same loss as `SequenceModel.loss`
/// and its gradient with respect to every named parameter, in the AD side's names and shapes, so the two
/// can be compared entry by entry (docs/ARCHITECTURE.md §7.2).
[<RequireQualifiedAccess>]
module Bptt =

    /// Why the reference cannot differentiate a model, if it cannot: it is written for the built-in cells
    /// (with or without biases) and losses, whose backward equations it spells out.
    let unsupported (spec: ModelSpec) : string option =
        match Cells.tryBuiltIn spec.Cell, spec.Loss with
        | None, _ -> Some(sprintf "the hand-derived BPTT covers the built-in cells (RNN_TANH, RNN_RELU, LSTM, GRU, with or without biases), not the custom cell '%s'" spec.Cell.Name)
        | _, Loss.Custom c -> Some(sprintf "the hand-derived BPTT covers the built-in losses, not the custom loss '%s'" c.Name)
        | Some _, _ -> None

    /// The built-in cell of the model (kind and bias flag), or an error saying what the reference does not cover.
    let private builtInOf (spec: ModelSpec) : BuiltInCell =
        match unsupported spec with
        | Some why -> invalidArg "spec" why
        | None -> (Cells.tryBuiltIn spec.Cell).Value

    /// Rejects what the reference does not model, naming the option at fault.
    let private checkOptions (spec: ModelSpec) (batch: Minibatch) (options: RunOptions) =
        match options.DropoutSeed with
        | Some seed when spec.Dropout > 0.0 ->
            invalidArg "options" (sprintf "the BPTT reference has no dropout, but DropoutSeed is %d with Dropout %g; run it with DropoutSeed = None (dropout off)" seed spec.Dropout)
        | _ -> ()
        if options.Probes.IsSome then
            invalidArg "options" "the BPTT reference takes no probes: it returns ∂L/∂h_t itself (SequenceGradients.Hidden); pass Probes = None"
        match options.DetachEvery with
        | Some k when k <= 0 -> invalidArg "options" (sprintf "DetachEvery must be positive, got %d" k)
        | _ -> ()
        match options.Initial with
        | None -> ()
        | Some states ->
            let expected = spec.Layers * (if spec.Bidirectional then 2 else 1)
            if states.Length <> expected then
                invalidArg "options" (sprintf "%d initial states given, the model has %d (layers × directions)" states.Length expected)
            let shape = [| batch.Batch; spec.HiddenSize |]
            states |> Array.iteri (fun i s ->
                if s.H.Shape <> shape then invalidArg "options" (sprintf "initial state %d has h of shape %A, expected %A" i s.H.Shape shape)
                match s.C with
                | Some c when c.Shape <> shape -> invalidArg "options" (sprintf "initial state %d has c of shape %A, expected %A" i c.Shape shape)
                | None when (builtInOf spec).Kind = CellKind.Lstm -> invalidArg "options" (sprintf "initial state %d of an LSTM has no cell state c" i)
                | _ -> ())

    /// The layer-0 inputs, one (batch, input) matrix per time step.
    let private encode (spec: ModelSpec) (ps: NamedTensors) (batch: Minibatch) : Matrix<float>[] =
        let b, time = batch.Batch, batch.Time
        match batch.Input, spec.Input with
        | SequenceInput.Tokens ids, InputEncoding.OneHot v ->
            Array.init time (fun t -> Matrix<float>.Build.Dense(b, v, fun i j -> if ids.[i * time + t] = j then 1.0 else 0.0))
        | SequenceInput.Tokens ids, InputEncoding.Embedding (_, d) ->
            let table = Dense.ofTensor "embedding.weight" ps.["embedding.weight"]
            Array.init time (fun t -> Matrix<float>.Build.Dense(b, d, fun i j -> table.[ids.[i * time + t], j]))
        | SequenceInput.Features x, InputEncoding.Features f ->
            let values = x.ToArray()
            Array.init time (fun t -> Matrix<float>.Build.Dense(b, f, fun i j -> values.[(i * time + t) * f + j]))
        | _ -> invalidArg "batch" "the batch's inputs do not match the model's input encoding"

    /// Loss, parameter gradients and ∂L/∂h_t by hand-derived BPTT. `options` as for `SequenceModel.loss`:
    /// `DetachEvery = Some k` gives truncated BPTT with the AD side's definition, `Initial` sets the starting
    /// states (their gradients are not returned); dropout (a DropoutSeed with Dropout > 0) and probes are
    /// rejected. Parameters that the model does not use get zero gradients, as on the AD side.
    let run (spec: ModelSpec) (ps: NamedTensors) (options: RunOptions) (batch: Minibatch) : SequenceGradients =
        if isNull (box ps) then nullArg "ps"
        if isNull (box batch) then nullArg "batch"
        SequenceModel.check spec ps
        SequenceModel.checkBatch spec batch
        checkOptions spec batch options
        let rspec = SequenceModel.recurrentSpec spec
        let cell, hidden, layers, directions = builtInOf spec, spec.HiddenSize, spec.Layers, rspec.Directions
        let kind = cell.Kind
        let b, time = batch.Batch, batch.Time
        let keep = batch.Mask |> Option.map (fun m -> Array.init time (fun t -> Array.init b (fun i -> m.[i * time + t] <> 0.0)))
        let initial index =
            match options.Initial with
            | Some states ->
                let s = states.[index]
                { DenseState.H = Dense.ofTensor "options.Initial" s.H
                  C = match s.C with Some c -> Dense.ofTensor "options.Initial" c | None -> Dense.zeros b hidden }
            | None -> { DenseState.H = Dense.zeros b hidden; C = Dense.zeros b hidden }

        // Forward: layer by layer, each direction a fold over time; a layer's output at time t is
        // [h_t forward | h_t backward] (the backward direction's states flipped back into time order).
        let cells = Array.init layers (fun l -> Array.init directions (fun d -> DenseCell.ofNamed cell.Bias ps (Recurrent.suffix l d)))
        let traces = Array.init layers (fun _ -> Array.zeroCreate directions)
        let mutable inputs = encode spec ps batch
        for l in 0 .. layers - 1 do
            for d in 0 .. directions - 1 do
                traces.[l].[d] <- DirectionBackprop.forward kind cells.[l].[d] (initial (l * directions + d)) keep options.DetachEvery (d = 1) inputs
            let stateAt d t = traces.[l].[d].[if d = 1 then time - 1 - t else t].State.H
            inputs <- Array.init time (fun t -> Dense.concatColumns (Array.init directions (fun d -> stateAt d t)))
        let top = inputs
        let finals = Array.init directions (fun d -> traces.[layers - 1].[d].[time - 1].State.H)

        // Head and loss: per step, row i·T + t of the features is sequence i at time t (the AD side's row-major
        // (batch, time) order); many-to-one reads the top layer's final states.
        let head = HeadBackprop.layers spec ps
        let features, weights =
            match spec.Head with
            | HeadKind.PerStep ->
                Matrix<float>.Build.Dense(b * time, hidden * directions, fun r j -> top.[r % time].[r / time, j]),
                (match batch.Mask with Some m -> m | None -> Array.create (b * time) 1.0)
            | HeadKind.LastStep -> Dense.concatColumns finals, Array.create b 1.0
        let logits, headTrace = HeadBackprop.forward head features
        let loss, dLogits = HeadBackprop.loss spec.Loss weights batch.Targets logits
        let headGrads, dFeatures = HeadBackprop.backward head headTrace dLogits

        // Backward through the stack, top layer first: ∂L/∂(layer output) comes from the head for the top
        // layer and from the layer above (its ∂L/∂x_t) for the others.
        let gradients = Dictionary<string, Tensor>()
        for name, dW, dB in headGrads do
            gradients.[name + ".weight"] <- Dense.toTensor dW
            gradients.[name + ".bias"] <- Dense.vectorToTensor dB
        let hiddenGradients = Array.zeroCreate (layers * directions)
        let mutable dOutputs =
            match spec.Head with
            | HeadKind.PerStep -> Array.init time (fun t -> Matrix<float>.Build.Dense(b, hidden * directions, fun i j -> dFeatures.[i * time + t, j]))
            | HeadKind.LastStep -> Array.init time (fun _ -> Dense.zeros b (hidden * directions))
        for l in layers - 1 .. -1 .. 0 do
            let dInputs = Array.zeroCreate time
            for d in 0 .. directions - 1 do
                // The layer output [h_fwd | h_bwd] splits its gradient back into the two directions.
                let dOwn = dOutputs |> Array.map (Dense.columns (d * hidden) hidden)
                let dFinal =
                    match spec.Head with
                    | HeadKind.LastStep when l = layers - 1 -> Some(Dense.columns (d * hidden) hidden dFeatures)
                    | _ -> None
                let g = DirectionBackprop.backward kind cells.[l].[d] traces.[l].[d] dOwn dFinal
                let s = Recurrent.suffix l d
                gradients.["rnn.weight_ih" + s] <- Dense.toTensor g.DWih
                gradients.["rnn.weight_hh" + s] <- Dense.toTensor g.DWhh
                g.DBih |> Option.iter (fun d -> gradients.["rnn.bias_ih" + s] <- Dense.vectorToTensor d)
                g.DBhh |> Option.iter (fun d -> gradients.["rnn.bias_hh" + s] <- Dense.vectorToTensor d)
                hiddenGradients.[l * directions + d] <-
                    SequenceGradients.hiddenName l d,
                    Tensor.OfArray([| b; time; hidden |], Array.init (b * time * hidden) (fun k -> g.DHidden.[(k / hidden) % time].[k / (time * hidden), k % hidden]))
                // Both directions read the same x_t: ∂L/∂x_t = Σ_directions.
                for t in 0 .. time - 1 do
                    dInputs.[t] <- if d = 0 then g.DInputs.[t] else dInputs.[t] + g.DInputs.[t]
            dOutputs <- dInputs

        // x_t = E[id_t]  ⇒  ∂L/∂E[v] = Σ over the steps that read token v of ∂L/∂x_t.
        match batch.Input, spec.Input with
        | SequenceInput.Tokens ids, InputEncoding.Embedding (v, dim) ->
            let dTable = Dense.zeros v dim
            for t in 0 .. time - 1 do
                for i in 0 .. b - 1 do
                    let id = ids.[i * time + t]
                    for j in 0 .. dim - 1 do
                        dTable.[id, j] <- dTable.[id, j] + dOutputs.[t].[i, j]
            gradients.["embedding.weight"] <- Dense.toTensor dTable
        | _ -> ()

        { Loss = loss
          Parameters =
            NamedTensors(ps.Entries |> Array.map (fun (name, t) ->
                match gradients.TryGetValue name with
                | true, g -> name, g
                | _ -> name, Tensor.Zeros t.Shape))
          Hidden = NamedTensors hiddenGradients }

    /// The loss and its gradient by full (`detachEvery = None`) or truncated (`Some k`) BPTT, dropout off.
    let lossAndGradients (spec: ModelSpec) (ps: NamedTensors) (detachEvery: int option) (batch: Minibatch) : float * NamedTensors =
        let r = run spec ps { RunOptions.Default with DetachEvery = detachEvery } batch
        r.Loss, r.Parameters

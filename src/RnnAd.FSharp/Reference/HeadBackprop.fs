namespace RnnAd.FSharp.Reference

open System
open MathNet.Numerics.LinearAlgebra
open RnnAd.FSharp

/// One linear layer of the head: z = a·Wᵀ + b, PyTorch's layout W (out, in).
type internal DenseLinear = { Name: string; W: Matrix<float>; B: Vector<float> }

/// The head's forward record: the input of every layer and every pre-activation z.
type internal HeadTrace =
    { Inputs: Matrix<float>[]
      Pre: Matrix<float>[] }

/// The head (linear layers with relu between them) and the weighted mean cross-entropy, forward and backward.
///   forward:  a₀ = features,  z_k = a_k·W_kᵀ + b_k,  a_{k+1} = relu(z_k) (all but the last layer),  logits = z_last
///             L = −Σ_p w_p·log softmax(logits_p)[y_p] / Σ_p w_p
[<RequireQualifiedAccess>]
module internal HeadBackprop =

    /// The head's layers in order, named as `SequenceModel` names them: `fc` alone, or `fc1`, `fc2`, ….
    let layers (spec: ModelSpec) (ps: NamedTensors) : DenseLinear[] =
        let count = List.length spec.HeadHidden + 1
        Array.init count (fun k ->
            let name = if count = 1 then "fc" else sprintf "fc%d" (k + 1)
            { Name = name
              W = Dense.ofTensor (name + ".weight") ps.[name + ".weight"]
              B = Dense.vectorOfTensor (name + ".bias") ps.[name + ".bias"] })

    /// The logits of every row of `features` and the trace the backward pass needs.
    let forward (layers: DenseLinear[]) (features: Matrix<float>) : Matrix<float> * HeadTrace =
        let inputs = Array.zeroCreate layers.Length
        let pre = Array.zeroCreate layers.Length
        let mutable a = features
        for k in 0 .. layers.Length - 1 do
            inputs.[k] <- a
            pre.[k] <- Dense.addRow layers.[k].B (a.TransposeAndMultiply layers.[k].W)
            a <- if k < layers.Length - 1 then Dense.map Dense.relu pre.[k] else pre.[k]
        a, { Inputs = inputs; Pre = pre }

    /// log Σ_c exp(row_c) of every row, as max + log Σ exp(row − max) so no exponential overflows.
    let private logSumExp (logits: Matrix<float>) : float[] =
        Array.init logits.RowCount (fun p ->
            let row = logits.Row p
            let m = row.Maximum()
            if Double.IsInfinity m then m else m + log (row |> Seq.sumBy (fun v -> exp (v - m))))

    /// L = −Σ_p w_p·log softmax(logits_p)[y_p] / Σ_p w_p and ∂L/∂logits.
    let crossEntropy (weights: float[]) (targets: int[]) (logits: Matrix<float>) : float * Matrix<float> =
        let total = Array.sum weights
        if total <= 0.0 then invalidArg "batch" "no position has a positive weight (mask), the mean cross-entropy is undefined"
        let lse = logSumExp logits
        let loss = -(Array.init logits.RowCount (fun p -> weights.[p] * (logits.[p, targets.[p]] - lse.[p])) |> Array.sum) / total
        // log softmax(z)_y = z_y − log Σ_c exp(z_c)  ⇒  ∂L/∂z_c = w_p/Σw · (softmax(z)_c − [c = y_p])
        let dLogits =
            Matrix<float>.Build.Dense(logits.RowCount, logits.ColumnCount, fun p c ->
                weights.[p] / total * (exp (logits.[p, c] - lse.[p]) - (if c = targets.[p] then 1.0 else 0.0)))
        loss, dLogits

    /// The model's loss and ∂L/∂outputs, for the losses the reference spells out.
    let loss (loss: Loss) (weights: float[]) (targets: Targets) (outputs: Matrix<float>) : float * Matrix<float> =
        match loss, targets with
        | Loss.CrossEntropy None, Targets.Classes classes -> crossEntropy weights classes outputs
        | _ -> invalidArg "loss" (sprintf "the hand-derived BPTT has no backward equations for the %s loss with these targets" loss.Name)

    /// From ∂L/∂logits back through the head: (name, ∂L/∂W, ∂L/∂b) per layer and ∂L/∂features.
    let backward (layers: DenseLinear[]) (trace: HeadTrace) (dLogits: Matrix<float>) : (string * Matrix<float> * Vector<float>)[] * Matrix<float> =
        let grads = Array.zeroCreate layers.Length
        let mutable dZ = dLogits
        let mutable dFeatures = dLogits
        for k in layers.Length - 1 .. -1 .. 0 do
            // z_k = a_k·W_kᵀ + b_k  ⇒  ∂L/∂W_k = (∂L/∂z_k)ᵀ·a_k,  ∂L/∂b_k = Σ_rows ∂L/∂z_k,  ∂L/∂a_k = ∂L/∂z_k·W_k
            grads.[k] <- layers.[k].Name, dZ.TransposeThisAndMultiply trace.Inputs.[k], dZ.ColumnSums()
            let dA = dZ * layers.[k].W
            if k > 0 then
                // a_k = relu(z_{k−1})  ⇒  ∂L/∂z_{k−1} = ∂L/∂a_k ⊙ [z_{k−1} > 0]
                dZ <- Dense.hadamard dA (Dense.map Dense.reluSlope trace.Pre.[k - 1])
            else dFeatures <- dA
        grads, dFeatures

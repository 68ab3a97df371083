namespace RnnAd.FSharp

open RnnAd
open System
open RnnAd.FSharp.Storage

/// Stochastic gradient descent, as PyTorch's `torch.optim.SGD`.
type SgdOptions =
    { Momentum: float
      Dampening: float
      Nesterov: bool
      WeightDecay: float }

    /// Plain SGD: no momentum, no weight decay.
    static member Default = { Momentum = 0.0; Dampening = 0.0; Nesterov = false; WeightDecay = 0.0 }

/// Adam and AdamW, as PyTorch's `torch.optim.Adam` / `AdamW` (bias-corrected, no amsgrad).
type AdamOptions =
    { Beta1: float
      Beta2: float
      Epsilon: float
      /// L2 penalty added to the gradient (Adam) or decoupled decay of the weights (AdamW).
      WeightDecay: float }

    /// PyTorch's Adam defaults: betas (0.9, 0.999), eps 1e-8, no weight decay.
    static member Default = { Beta1 = 0.9; Beta2 = 0.999; Epsilon = 1e-8; WeightDecay = 0.0 }

    /// PyTorch's AdamW defaults: as Adam with weight decay 0.01.
    static member DefaultW = { AdamOptions.Default with WeightDecay = 0.01 }

/// RMSprop, as PyTorch's `torch.optim.RMSprop`.
type RmsPropOptions =
    { Alpha: float
      Epsilon: float
      Momentum: float
      Centered: bool
      WeightDecay: float }

    /// PyTorch's defaults: alpha 0.99, eps 1e-8, no momentum, not centred.
    static member Default = { Alpha = 0.99; Epsilon = 1e-8; Momentum = 0.0; Centered = false; WeightDecay = 0.0 }

/// An optimizer and its hyper-parameters (the learning rate comes from the schedule at each step).
[<RequireQualifiedAccess>]
type Optimizer =
    | Sgd of SgdOptions
    | Adam of AdamOptions
    | AdamW of AdamOptions
    | RmsProp of RmsPropOptions

/// An optimizer's state: the number of updates taken and its per-parameter buffers, named
/// `<buffer>.<parameter>` with PyTorch's buffer names (`momentum_buffer`, `exp_avg`, `exp_avg_sq`,
/// `square_avg`, `grad_avg`). Plain named tensors, so checkpoints store it like parameters.
type OptimizerState = { Step: int64; Buffers: NamedTensors }

/// Optimizers as pure updates: (parameters, state, gradients) → (parameters, state). Each formula is
/// PyTorch's, operation for operation, so a run can be compared with PyTorch's numbers.
[<RequireQualifiedAccess>]
module Optimizers =

    /// The optimizer's usual name: SGD, Adam, AdamW, RMSprop.
    let name (optimizer: Optimizer) : string =
        match optimizer with
        | Optimizer.Sgd _ -> "SGD"
        | Optimizer.Adam _ -> "Adam"
        | Optimizer.AdamW _ -> "AdamW"
        | Optimizer.RmsProp _ -> "RMSprop"

    /// The buffer names an optimizer keeps per parameter.
    let bufferNames (optimizer: Optimizer) : string list =
        match optimizer with
        | Optimizer.Sgd o -> if o.Momentum <> 0.0 then [ "momentum_buffer" ] else []
        | Optimizer.Adam _
        | Optimizer.AdamW _ -> [ "exp_avg"; "exp_avg_sq" ]
        | Optimizer.RmsProp o ->
            [ yield "square_avg"
              if o.Momentum > 0.0 then yield "momentum_buffer"
              if o.Centered then yield "grad_avg" ]

    /// Checks the hyper-parameters, naming the one at fault.
    let validate (optimizer: Optimizer) : unit =
        let check name ok value = if not ok then invalidArg name (sprintf "%s = %g is out of range" name value)
        let adam (o: AdamOptions) =
            check "Beta1" (o.Beta1 >= 0.0 && o.Beta1 < 1.0) o.Beta1
            check "Beta2" (o.Beta2 >= 0.0 && o.Beta2 < 1.0) o.Beta2
            check "Epsilon" (o.Epsilon >= 0.0) o.Epsilon
            check "WeightDecay" (o.WeightDecay >= 0.0) o.WeightDecay
        match optimizer with
        | Optimizer.Sgd o ->
            check "Momentum" (o.Momentum >= 0.0) o.Momentum
            check "WeightDecay" (o.WeightDecay >= 0.0) o.WeightDecay
            if o.Nesterov && (o.Momentum <= 0.0 || o.Dampening <> 0.0) then
                invalidArg "Nesterov" "Nesterov momentum needs a positive momentum and zero dampening"
        | Optimizer.Adam o
        | Optimizer.AdamW o -> adam o
        | Optimizer.RmsProp o ->
            check "Alpha" (o.Alpha >= 0.0 && o.Alpha <= 1.0) o.Alpha
            check "Epsilon" (o.Epsilon >= 0.0) o.Epsilon
            check "Momentum" (o.Momentum >= 0.0) o.Momentum
            check "WeightDecay" (o.WeightDecay >= 0.0) o.WeightDecay

    /// The state before the first update: zero buffers for every parameter.
    let init (optimizer: Optimizer) (ps: NamedTensors) : OptimizerState =
        validate optimizer
        { Step = 0L
          Buffers =
            NamedTensors [| for b in bufferNames optimizer do
                              for name, t in ps.Entries -> b + "." + name, Tensor.Zeros t.Shape |] }

    /// One update of every parameter with learning rate `lr`. Pure: new tensors, inputs untouched.
    let step (optimizer: Optimizer) (lr: float) (ps: NamedTensors) (state: OptimizerState) (grads: NamedTensors) : NamedTensors * OptimizerState =
        if not (lr >= 0.0) || Double.IsInfinity lr then invalidArg "lr" (sprintf "the learning rate must be finite and non-negative, got %g" lr)
        NamedTensors.checkCompatible "optimizer step" ps grads
        let t = state.Step + 1L
        let buffers = Collections.Generic.Dictionary<string, float[]>()
        let buffer (b: string) (name: string) =
            let arr = state.Buffers.[b + "." + name].ToArray()
            buffers.[b + "." + name] <- arr
            arr
        let updated =
            ps.Entries |> Array.map (fun (name, pt) ->
                let p = pt.ToArray()
                let g = grads.[name].Value.Data // read only: no copy needed
                match optimizer with
                | Optimizer.Sgd o ->
                    let buf = if o.Momentum <> 0.0 then buffer "momentum_buffer" name else null
                    for i in 0 .. p.Length - 1 do
                        let mutable d = g.[i] + o.WeightDecay * p.[i]
                        if o.Momentum <> 0.0 then
                            // PyTorch seeds the buffer with the first gradient itself (no dampening then).
                            buf.[i] <- if t = 1L then d else o.Momentum * buf.[i] + (1.0 - o.Dampening) * d
                            d <- if o.Nesterov then d + o.Momentum * buf.[i] else buf.[i]
                        p.[i] <- p.[i] - lr * d
                | Optimizer.Adam o
                | Optimizer.AdamW o ->
                    let decoupled = match optimizer with Optimizer.AdamW _ -> true | _ -> false
                    let m = buffer "exp_avg" name
                    let v = buffer "exp_avg_sq" name
                    let bc1 = 1.0 - Math.Pow(o.Beta1, float t)
                    let bc2Sqrt = sqrt (1.0 - Math.Pow(o.Beta2, float t))
                    let stepSize = lr / bc1
                    for i in 0 .. p.Length - 1 do
                        if decoupled then p.[i] <- p.[i] * (1.0 - lr * o.WeightDecay)
                        let d = if decoupled then g.[i] else g.[i] + o.WeightDecay * p.[i]
                        m.[i] <- m.[i] + (d - m.[i]) * (1.0 - o.Beta1)
                        v.[i] <- v.[i] * o.Beta2 + (1.0 - o.Beta2) * (d * d)
                        p.[i] <- p.[i] - stepSize * m.[i] / (sqrt v.[i] / bc2Sqrt + o.Epsilon)
                | Optimizer.RmsProp o ->
                    let sq = buffer "square_avg" name
                    let buf = if o.Momentum > 0.0 then buffer "momentum_buffer" name else null
                    let ga = if o.Centered then buffer "grad_avg" name else null
                    for i in 0 .. p.Length - 1 do
                        let d = g.[i] + o.WeightDecay * p.[i]
                        sq.[i] <- o.Alpha * sq.[i] + (1.0 - o.Alpha) * (d * d)
                        let avg =
                            if o.Centered then
                                ga.[i] <- o.Alpha * ga.[i] + (1.0 - o.Alpha) * d
                                sqrt (sq.[i] - ga.[i] * ga.[i]) + o.Epsilon
                            else sqrt sq.[i] + o.Epsilon
                        if o.Momentum > 0.0 then
                            buf.[i] <- o.Momentum * buf.[i] + d / avg
                            p.[i] <- p.[i] - lr * buf.[i]
                        else p.[i] <- p.[i] - lr * d / avg
                name, Tensor.Constant(RawTensor.ofOwned pt.Shape p))
        let newBuffers =
            state.Buffers |> NamedTensors.map (fun key old ->
                match buffers.TryGetValue key with
                | true, arr -> Tensor.Constant(RawTensor.ofOwned old.Shape arr)
                | _ -> old)
        NamedTensors updated, { Step = t; Buffers = newBuffers }

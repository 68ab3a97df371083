namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Differentiation as higher-order functions (docs/ARCHITECTURE.md §3.3): reverse mode (`grad`, `valueAndGrad`,
/// `vjp`), forward mode (`jvp`), forward-over-reverse (`hvp`) and small Jacobians. Every call opens its
/// own differentiation with a fresh tag, so calls nest (derivatives of derivatives) and run safely from
/// several threads. Functions must be pure: a tensor traced inside must not escape the call.
[<RequireQualifiedAccess>]
module Ad =

    /// The primal of `y` at this differentiation (y itself if it does not depend on the input).
    let private primalAt (tag: int64) (y: Tensor) : Tensor =
        match y with
        | TensorF (p, _, g)
        | TensorR (p, _, g) when g = tag -> p
        | _ -> y

    let private checkSeed (op: string) (y: Tensor) (u: Tensor) =
        if not (Shape.equal y.Shape u.Shape) then
            Shape.fail op (sprintf "the cotangent has shape %s but the output has shape %s" (Shape.format u.Shape) (Shape.format y.Shape))

    let private checkScalar (op: string) (y: Tensor) =
        if y.Numel <> 1 then
            Shape.fail op (sprintf "the function must return one value, it returned shape %s" (Shape.format y.Shape))

    /// Traces `f` at several inputs at once and returns its output and a pullback mapping a cotangent of the
    /// output to the cotangents of the inputs (Jᵀu).
    let private trace (f: Tensor[] -> Tensor) (xs: Tensor[]) : Tensor * (Tensor -> Tensor[]) =
        let tag = Tag.next ()
        let traced = xs |> Array.map (fun x -> TensorR(x, Op.leaf (), tag))
        let y = f traced
        let pullback (u: Tensor) =
            checkSeed "vjp" y u
            match y with
            | TensorR (_, _, g) when g = tag ->
                let sweep = Reverse.run y u
                traced |> Array.map (Reverse.adjointOf sweep)
            | _ -> xs |> Array.map (fun x -> Tensor.Zeros x.Shape)
        primalAt tag y, pullback

    /// Pushes tangents through `f` at several inputs at once: returns f(xs) and J·vs.
    let private push (f: Tensor[] -> Tensor) (xs: Tensor[]) (vs: Tensor[]) : Tensor * Tensor =
        Array.iter2 (fun (x: Tensor) (v: Tensor) ->
            if not (Shape.equal x.Shape v.Shape) then
                Shape.fail "jvp" (sprintf "the tangent has shape %s but the input has shape %s" (Shape.format v.Shape) (Shape.format x.Shape))) xs vs
        let tag = Tag.next ()
        let y = f (Array.map2 (fun x v -> TensorF(x, v, tag)) xs vs)
        match y with
        | TensorF (p, t, g) when g = tag -> p, t
        | _ -> y, Tensor.Zeros y.Shape

    /// f(x) and a pullback u ↦ Jᵀu, reusable for several cotangents.
    let vjp (f: Tensor -> Tensor) (x: Tensor) : Tensor * (Tensor -> Tensor) =
        let y, pull = trace (fun xs -> f xs.[0]) [| x |]
        y, fun u -> (pull u).[0]

    /// f(x) and J·v (forward mode).
    let jvp (f: Tensor -> Tensor) (x: Tensor) (v: Tensor) : Tensor * Tensor = push (fun xs -> f xs.[0]) [| x |] [| v |]

    /// f(x) and ∇f(x), for f returning one value.
    let valueAndGrad (f: Tensor -> Tensor) (x: Tensor) : Tensor * Tensor =
        let y, pull = vjp f x
        checkScalar "grad" y
        y, pull (Tensor.Ones y.Shape)

    /// ∇f(x), for f returning one value.
    let grad (f: Tensor -> Tensor) (x: Tensor) : Tensor = snd (valueAndGrad f x)

    /// The Hessian of f at x times v, by forward-over-reverse: the tangent of ∇f along v.
    let hvp (f: Tensor -> Tensor) (x: Tensor) (v: Tensor) : Tensor = snd (jvp (grad f) x v)

    /// The Jacobian of f at x, shape `f(x).Shape @ x.Shape`, one reverse sweep per output element.
    let jacobian (f: Tensor -> Tensor) (x: Tensor) : Tensor =
        let y, pull = vjp f x
        let rows =
            Array.init y.Numel (fun i ->
                let e = Array.zeroCreate y.Numel
                e.[i] <- 1.0
                pull (Tensor.OfArray(y.Shape, e)))
        if rows.Length = 0 then Tensor.Zeros(Array.append y.Shape x.Shape)
        else Tensor.Stack(rows, 0).Reshape(Array.append y.Shape x.Shape)

    /// The value of t with every derivative removed: a constant for all differentiations.
    let stopGradient (t: Tensor) : Tensor = Tensor.Constant t.Value

    /// f(inputs) computed without keeping f's trace (gradient checkpointing): under single-level reverse mode
    /// only the inputs and the output are recorded, and the reverse sweep runs f again under its own trace
    /// to get its adjoints, trading a second forward pass for memory. For constants, forward mode or nested
    /// differentiation it is plain f(inputs). f must be pure (it runs twice).
    let checkpoint (f: Tensor[] -> Tensor) (inputs: Tensor[]) : Tensor =
        if isNull inputs then nullArg "inputs"
        let traced = [| for i in 0 .. inputs.Length - 1 do if inputs.[i].DiffTag > 0L then i |]
        if traced.Length = 0 || not (Op.fusable inputs) then f inputs
        else
            let constants = inputs |> Array.map (fun t -> Tensor.Constant t.Value)
            let y = f constants
            if y.DiffTag <> 0L then
                invalidOp "checkpoint: f reads a differentiated value that is not among its inputs; pass every such value in `inputs`"
            let back (g: Tensor) =
                let _, pullback = trace f constants
                let adjoints = pullback g
                traced |> Array.map (fun i -> Dense adjoints.[i])
            TensorR(y, ReverseNode(traced |> Array.map (fun i -> inputs.[i]), back), inputs.[traced.[0]].DiffTag)

    /// The same operations over named tensors: gradients and tangents come back under the same names and shapes.
    [<RequireQualifiedAccess>]
    module Named =

        let private rebuild (ps: NamedTensors) (ts: Tensor[]) = NamedTensors(Array.map2 (fun n t -> n, t) ps.Names ts)

        /// f(ps) and a pullback u ↦ Jᵀu.
        let vjp (f: NamedTensors -> Tensor) (ps: NamedTensors) : Tensor * (Tensor -> NamedTensors) =
            let y, pull = trace (rebuild ps >> f) ps.Tensors
            y, fun u -> rebuild ps (pull u)

        /// f(ps) and J·vs, with one tangent per parameter.
        let jvp (f: NamedTensors -> Tensor) (ps: NamedTensors) (vs: NamedTensors) : Tensor * Tensor =
            NamedTensors.checkCompatible "jvp" ps vs
            push (rebuild ps >> f) ps.Tensors vs.Tensors

        /// f(ps) and its gradient, for f returning one value.
        let valueAndGrad (f: NamedTensors -> Tensor) (ps: NamedTensors) : Tensor * NamedTensors =
            let y, pull = vjp f ps
            checkScalar "grad" y
            y, pull (Tensor.Ones y.Shape)

        /// The gradient of f at ps.
        let grad (f: NamedTensors -> Tensor) (ps: NamedTensors) : NamedTensors = snd (valueAndGrad f ps)

        /// The Hessian of f at ps times the direction vs, by forward-over-reverse.
        let hvp (f: NamedTensors -> Tensor) (ps: NamedTensors) (vs: NamedTensors) : NamedTensors =
            NamedTensors.checkCompatible "hvp" ps vs
            let tag = Tag.next ()
            let dual = NamedTensors(Array.map2 (fun (n, x) (v: Tensor) -> n, TensorF(x, v, tag)) ps.Entries vs.Tensors)
            grad f dual
            |> NamedTensors.map (fun _ g ->
                match g with
                | TensorF (_, t, gt) when gt = tag -> t
                | _ -> Tensor.Zeros g.Shape)

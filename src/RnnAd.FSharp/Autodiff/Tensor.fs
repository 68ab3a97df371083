namespace RnnAd

open System
open System.Threading
open RnnAd.FSharp.Storage

/// A differentiable float64 tensor. It is one of three things (docs/ARCHITECTURE.md §3.1):
/// - a constant holding a raw value;
/// - a forward-mode dual number: a primal and a tangent, tagged with the differentiation that made it;
/// - a reverse-mode traced value: a primal and a node recording the op that made it, also tagged.
/// Primals are tensors themselves, so derivatives nest: an inner differentiation gets a larger tag, and an
/// op between values of different tags treats the lower-tag one as a constant. Tensors are immutable.
[<ReferenceEquality>]
type Tensor =
    internal
    | TensorC of value: RawTensor
    | TensorF of primal: Tensor * tangent: Tensor * tag: int64
    | TensorR of primal: Tensor * node: ReverseNode * tag: int64

    /// The value with this differentiation level removed (a constant is its own primal).
    member t.Primal: Tensor =
        match t with
        | TensorC _ -> t
        | TensorF (p, _, _)
        | TensorR (p, _, _) -> p

    /// The numeric value, with every level of differentiation removed.
    member t.Value: RawTensor =
        match t with
        | TensorC v -> v
        | TensorF (p, _, _)
        | TensorR (p, _, _) -> p.Value

    /// The dimensions, outermost first.
    member t.Shape: int[] = t.Value.Shape

    /// Number of dimensions.
    member t.Rank: int = t.Value.Rank

    /// Number of elements.
    member t.Numel: int = t.Value.Numel

    /// The tag of the innermost differentiation this tensor takes part in; 0 for a constant.
    member internal t.DiffTag: int64 =
        match t with
        | TensorC _ -> 0L
        | TensorF (_, _, g)
        | TensorR (_, _, g) -> g

    /// A copy of the values in row-major order.
    member t.ToArray() : float[] = t.Value.ToArray()

    /// The single value of a one-element tensor.
    member t.ToScalar() : float =
        let v = t.Value
        if v.Numel <> 1 then
            Shape.fail "ToScalar" (sprintf "the tensor has shape %s, not exactly one element" (Shape.format v.Shape))
        v.AsSpan().[0]

    /// The element at a full index.
    member t.Item
        with get (index: int[]) : float = t.Value.[index]

    override t.ToString() =
        let kind =
            match t with
            | TensorC _ -> ""
            | TensorF (_, _, g) -> sprintf " (forward, tag %d)" g
            | TensorR (_, _, g) -> sprintf " (reverse, tag %d)" g
        t.Value.ToString().Replace("RawTensor", "Tensor") + kind

/// What a reverse rule hands back for one input: a tensor of the input's shape, or a sparse piece (a slice,
/// gathered rows, a matrix product) that can add itself into a buffer in place, so that a value read at
/// every time step does not cost a full-size temporary per step.
and internal Contribution =
    | Dense of Tensor
    /// `addInto buffer` adds the contribution into a buffer of the input's shape and returns true, or returns
    /// false (nested differentiation: its operands are not constants) and `materialize` builds it with
    /// differentiable ops instead.
    | Sparse of materialize: (unit -> Tensor) * addInto: (float[] -> bool)

/// A recorded op of a reverse-mode trace: the traced inputs it read (all at the node's tag) and the rule
/// that maps the adjoint of its output to one adjoint contribution per input. The mutable fields belong to
/// the reverse sweep that is running over the graph (docs/ARCHITECTURE.md §3.2).
and [<Sealed; AllowNullLiteral>] internal ReverseNode(parents: Tensor[], backward: Tensor -> Contribution[]) =
    member _.Parents = parents
    member _.Backward = backward
    /// Sum of the adjoint contributions received so far in the current sweep (null before the first).
    member val Adjoint: Tensor = Unchecked.defaultof<Tensor> with get, set
    /// Whether Adjoint's storage was allocated by the sweep itself, so later contributions may be added in place.
    member val OwnsAdjoint = false with get, set
    /// Consumers whose contribution has not arrived yet in the current sweep.
    member val Fanout = 0 with get, set
    /// The sweep that last initialised this node.
    member val Sweep = 0L with get, set

/// Tags for differentiations: each differentiation takes a fresh, larger tag than any before it, so a nested
/// differentiation is always inner to the one that encloses it. The counter is shared and atomic, which is
/// what makes differentiation safe from several threads at once.
[<RequireQualifiedAccess>]
module internal Tag =
    let mutable private last = 0L

    /// A tag larger than every tag handed out before.
    let next () : int64 = Interlocked.Increment(&last)

/// The machinery every differentiable op goes through. An op supplies its raw kernel, its forward rule
/// (tangent of the output from the tangent of an input) and its reverse rule (adjoint of an input from the
/// adjoint of the output); this module does the dispatch over constant / forward / reverse operands and
/// their tags. Rules are written with Tensor ops, which is what makes derivatives of derivatives work.
[<RequireQualifiedAccess>]
module internal Op =

    let leaf () = ReverseNode([||], fun _ -> [||])

    /// Applies a one-input op whose reverse rule may return a sparse contribution.
    let rec unarySparse
        (raw: RawTensor -> RawTensor)
        (forward: Tensor -> Tensor -> Tensor -> Tensor)
        (reverse: Tensor -> Tensor -> Tensor -> Contribution)
        (a: Tensor)
        : Tensor =
        match a with
        | TensorC ra -> TensorC(raw ra)
        | TensorF (ap, ad, tag) ->
            let fp = unarySparse raw forward reverse ap
            TensorF(fp, forward ap fp ad, tag)
        | TensorR (ap, _, tag) ->
            let fp = unarySparse raw forward reverse ap
            TensorR(fp, ReverseNode([| a |], fun g -> [| reverse ap fp g |]), tag)

    /// Applies a one-input op. `forward a f da` gives df; `reverse a f g` gives the adjoint of a, where a
    /// and f are the primals of input and output at the level being differentiated.
    let unary
        (raw: RawTensor -> RawTensor)
        (forward: Tensor -> Tensor -> Tensor -> Tensor)
        (reverse: Tensor -> Tensor -> Tensor -> Tensor)
        (a: Tensor)
        : Tensor =
        unarySparse raw forward (fun a f g -> Dense(reverse a f g)) a

    /// Applies a two-input op. Only the operand(s) with the largest tag are differentiated at this level;
    /// the other is passed whole, as a constant. Rules take (a, b, f, tangent-or-adjoint); the reverse rules
    /// may return sparse contributions.
    let rec binarySparse
        (raw: RawTensor -> RawTensor -> RawTensor)
        (forwardA: Tensor -> Tensor -> Tensor -> Tensor -> Tensor)
        (forwardB: Tensor -> Tensor -> Tensor -> Tensor -> Tensor)
        (reverseA: Tensor -> Tensor -> Tensor -> Tensor -> Contribution)
        (reverseB: Tensor -> Tensor -> Tensor -> Tensor -> Contribution)
        (a: Tensor)
        (b: Tensor)
        : Tensor =
        let recur x y = binarySparse raw forwardA forwardB reverseA reverseB x y
        match a, b with
        | TensorC ra, TensorC rb -> TensorC(raw ra rb)
        | _ when a.DiffTag > b.DiffTag ->
            match a with
            | TensorF (ap, ad, tag) ->
                let fp = recur ap b
                TensorF(fp, forwardA ap b fp ad, tag)
            | TensorR (ap, _, tag) ->
                let fp = recur ap b
                TensorR(fp, ReverseNode([| a |], fun g -> [| reverseA ap b fp g |]), tag)
            | TensorC _ -> failwith "unreachable: a constant has the smallest tag"
        | _ when b.DiffTag > a.DiffTag ->
            match b with
            | TensorF (bp, bd, tag) ->
                let fp = recur a bp
                TensorF(fp, forwardB a bp fp bd, tag)
            | TensorR (bp, _, tag) ->
                let fp = recur a bp
                TensorR(fp, ReverseNode([| b |], fun g -> [| reverseB a bp fp g |]), tag)
            | TensorC _ -> failwith "unreachable: a constant has the smallest tag"
        | TensorF (ap, ad, tag), TensorF (bp, bd, _) ->
            let fp = recur ap bp
            TensorF(fp, add (forwardA ap bp fp ad) (forwardB ap bp fp bd), tag)
        | TensorR (ap, _, tag), TensorR (bp, _, _) ->
            let fp = recur ap bp
            TensorR(fp, ReverseNode([| a; b |], fun g -> [| reverseA ap bp fp g; reverseB ap bp fp g |]), tag)
        | _ -> invalidOp "forward and reverse values with the same tag: a differentiation leaked out of its function"

    /// Applies a two-input op. Only the operand(s) with the largest tag are differentiated at this level;
    /// the other is passed whole, as a constant. Rules take (a, b, f, tangent-or-adjoint).
    and binary
        (raw: RawTensor -> RawTensor -> RawTensor)
        (forwardA: Tensor -> Tensor -> Tensor -> Tensor -> Tensor)
        (forwardB: Tensor -> Tensor -> Tensor -> Tensor -> Tensor)
        (reverseA: Tensor -> Tensor -> Tensor -> Tensor -> Tensor)
        (reverseB: Tensor -> Tensor -> Tensor -> Tensor -> Tensor)
        (a: Tensor)
        (b: Tensor)
        : Tensor =
        binarySparse raw forwardA forwardB (fun a b f g -> Dense(reverseA a b f g)) (fun a b f g -> Dense(reverseB a b f g)) a b

    /// `a` broadcast to `shape`; its adjoint sums back over the broadcast dimensions.
    and broadcastTo (shape: int[]) (a: Tensor) : Tensor =
        if Shape.equal a.Shape shape then a
        else
            unary (Reductions.broadcastTo shape)
                (fun _ _ da -> broadcastTo shape da)
                (fun a _ g -> sumToShape a.Shape g)
                a

    /// `a` summed over the dimensions along which `shape` broadcasts to a's shape; the adjoint of broadcastTo.
    and sumToShape (shape: int[]) (a: Tensor) : Tensor =
        if Shape.equal a.Shape shape then a
        else
            unary (Reductions.sumToShape shape)
                (fun _ _ da -> sumToShape shape da)
                (fun a _ g -> broadcastTo a.Shape g)
                a

    /// a + b with broadcasting: ∂f = da + db; ā = Σ ḡ over a's broadcast dimensions, b̄ likewise.
    and add (a: Tensor) (b: Tensor) : Tensor =
        binary Elementwise.add
            (fun _ _ f da -> broadcastTo f.Shape da)
            (fun _ _ f db -> broadcastTo f.Shape db)
            (fun a _ _ g -> sumToShape a.Shape g)
            (fun _ b _ g -> sumToShape b.Shape g)
            a b

    /// `a` where `mask` is non-zero and 0 elsewhere (the two broadcast together), with the same selection
    /// of tangents and adjoints. Rules that zero a derivative by a 0/1 mask use it rather than a product, so
    /// an infinite tangent or adjoint where the mask is 0 gives 0, as in PyTorch, and not ∞·0 = NaN.
    let rec keepWhere (mask: RawTensor) (a: Tensor) : Tensor =
        unary (Elementwise.keepWhere mask)
            (fun _ f da -> keepWhere mask (broadcastTo f.Shape da))
            (fun a _ g -> sumToShape a.Shape (keepWhere mask g))
            a

    /// Applies an op over any number of inputs (concat, stack). `forward xs f tangents` sees ValueNone for
    /// inputs that are constant at this level; `reverse xs f g i` gives the adjoint of input i.
    let rec nary
        (raw: RawTensor[] -> RawTensor)
        (forward: Tensor[] -> Tensor -> Tensor voption[] -> Tensor)
        (reverse: Tensor[] -> Tensor -> Tensor -> int -> Tensor)
        (xs: Tensor[])
        : Tensor =
        let top = xs |> Array.fold (fun m (x: Tensor) -> max m x.DiffTag) 0L
        if top = 0L then TensorC(raw (xs |> Array.map (fun x -> x.Value)))
        else
            let primals = xs |> Array.map (fun x -> if x.DiffTag = top then x.Primal else x)
            let fp = nary raw forward reverse primals
            let atTop = xs |> Array.filter (fun x -> x.DiffTag = top)
            match atTop.[0] with
            | TensorF _ ->
                let tangents = xs |> Array.map (fun x -> match x with TensorF (_, d, g) when g = top -> ValueSome d | _ -> ValueNone)
                TensorF(fp, forward primals fp tangents, top)
            | _ ->
                let which = [| for i in 0 .. xs.Length - 1 do if xs.[i].DiffTag = top then i |]
                TensorR(fp, ReverseNode(atTop, fun g -> which |> Array.map (fun i -> Dense(reverse primals fp g i))), top)

    /// Whether a fused op can take these inputs: each is a constant, or traced in reverse mode over a constant
    /// primal, all at one tag. That is every single-level training step; nested or forward-mode
    /// differentiation takes the unfused ops instead.
    let fusable (inputs: Tensor[]) : bool =
        let mutable tag = 0L
        let mutable ok = true
        for t in inputs do
            match t with
            | TensorC _ -> ()
            | TensorR (TensorC _, _, g) when tag = 0L || tag = g -> tag <- g
            | _ -> ok <- false
        ok

    /// Applies a fused op (a whole cell step) to `fusable` inputs. `value` computes the output from the raw
    /// inputs; `backward inputs output adjoint needed` returns one contribution per input (only those marked
    /// needed are used). Both are raw kernels: the adjoint of such a node is always a constant.
    let fused (inputs: Tensor[]) (value: RawTensor[] -> RawTensor) (backward: RawTensor[] -> RawTensor -> RawTensor -> bool[] -> Contribution[]) : Tensor =
        if not (fusable inputs) then invalidOp "fused op on inputs that are not constants or single-level traced values"
        let raws = inputs |> Array.map (fun t -> t.Value)
        let f = value raws
        let traced = [| for i in 0 .. inputs.Length - 1 do if inputs.[i].DiffTag > 0L then i |]
        if traced.Length = 0 then TensorC f
        else
            let needed = Array.init inputs.Length (fun i -> Array.contains i traced)
            let back (g: Tensor) =
                match g with
                | TensorC gr ->
                    let all = backward raws f gr needed
                    traced |> Array.map (fun i -> all.[i])
                | _ -> invalidOp "a fused op received a traced adjoint; it only runs under single-level differentiation"
            TensorR(TensorC f, ReverseNode(traced |> Array.map (fun i -> inputs.[i]), back), inputs.[traced.[0]].DiffTag)

    /// The raw value of a tensor that is a constant at every level, if it is one.
    let (|Raw|_|) (t: Tensor) = match t with TensorC r -> Some r | _ -> None

    /// A constant of a's shape from a raw kernel applied to a's value: masks and signs, whose derivative is 0.
    let constantOf (kernel: RawTensor -> RawTensor) (a: Tensor) : Tensor = TensorC(kernel a.Value)

/// Arithmetic and the elementary functions. Each op states its raw kernel, its forward rule and its reverse
/// rule side by side. These live in the type itself so that F#'s operators and `exp`, `log`, `sin`, `cos`,
/// `tanh`, `sqrt`, `abs` work on tensors (they call a type's own static members).
type Tensor with

    /// A constant tensor holding a raw value.
    static member Constant(value: RawTensor) : Tensor =
        if isNull (box value) then nullArg "value"
        TensorC value

    /// A constant scalar.
    static member Scalar(value: float) : Tensor = TensorC(RawTensor.scalar value)

    /// `a` broadcast to `shape` (NumPy rules); the adjoint sums over the broadcast dimensions.
    member a.BroadcastTo(shape: int[]) : Tensor = Op.broadcastTo shape a

    /// `a` summed down to `shape`, a shape that broadcasts to a's; the adjoint of BroadcastTo.
    member a.SumToShape(shape: int[]) : Tensor = Op.sumToShape shape a

    /// a + b, broadcasting.
    static member (+)(a: Tensor, b: Tensor) : Tensor = Op.add a b

    /// a − b, broadcasting: ∂f = da − db; b̄ = −Σ ḡ.
    static member (-)(a: Tensor, b: Tensor) : Tensor =
        Op.binary Elementwise.sub
            (fun _ _ f da -> da.BroadcastTo f.Shape)
            (fun _ _ f db -> -(db.BroadcastTo f.Shape))
            (fun a _ _ g -> g.SumToShape a.Shape)
            (fun _ b _ g -> -(g.SumToShape b.Shape))
            a b

    /// a ⊙ b, broadcasting: ∂f = da·b + a·db; ā = Σ ḡ·b, b̄ = Σ ḡ·a.
    static member (*)(a: Tensor, b: Tensor) : Tensor =
        Op.binary Elementwise.mul
            (fun _ b _ da -> da * b)
            (fun a _ _ db -> a * db)
            (fun a b _ g -> (g * b).SumToShape a.Shape)
            (fun a b _ g -> (g * a).SumToShape b.Shape)
            a b

    /// a / b, broadcasting: ∂f = da/b − db·f/b; ā = Σ ḡ/b, b̄ = −Σ ḡ·f/b.
    static member (/)(a: Tensor, b: Tensor) : Tensor =
        Op.binary Elementwise.div
            (fun _ b f da -> (da / b).BroadcastTo f.Shape)
            (fun _ b f db -> -(db * f / b))
            (fun a b _ g -> (g / b).SumToShape a.Shape)
            (fun _ b f g -> -(g * f / b).SumToShape b.Shape)
            a b

    /// −a.
    static member (~-)(a: Tensor) : Tensor =
        Op.unary Elementwise.neg (fun _ _ da -> -da) (fun _ _ g -> -g) a

    /// aᵇ element-wise, broadcasting: ∂f = b·a^(b−1)·da + f·ln(a)·db, with PyTorch's (1.13) zeros: the
    /// first term is 0 where b = 0 (a⁰ = 1 for every a, where b·a^(b−1) would be 0·∞ at a = 0), the second
    /// where a = 0 and b ≥ 0 (0ᵇ is constant in b there, where f·ln a would be 0·(−∞), or −∞ at b = 0).
    /// The zeros are selected, not multiplied in: an infinite tangent or adjoint there gives 0 (PyTorch's
    /// exponent rule multiplies it outside its selection, giving NaN for that one case).
    static member Pow(a: Tensor, b: Tensor) : Tensor =
        let baseTerm (a: Tensor) (b: Tensor) (d: Tensor) =
            Op.keepWhere (Elementwise.notEqual b.Value (RawTensor.scalar 0.0)) (d * b * a ** (b - 1.0))
        let exponentTerm (a: Tensor) (b: Tensor) (f: Tensor) (d: Tensor) =
            Op.keepWhere (Elementwise.powExponentMask a.Value b.Value) (d * f * log a)
        Op.binary Elementwise.pow
            (fun a b f da -> (baseTerm a b da).BroadcastTo f.Shape)
            (fun a b f db -> (exponentTerm a b f db).BroadcastTo f.Shape)
            (fun a b _ g -> (baseTerm a b g).SumToShape a.Shape)
            (fun a b f g -> (exponentTerm a b f g).SumToShape b.Shape)
            a b

    /// aᵖ for a constant exponent: ∂f = p·a^(p−1)·da. a⁰ = 1 is a constant, whose derivative is 0 also at
    /// a = 0, where p·a^(p−1) would be 0·∞ (PyTorch's rule).
    static member Pow(a: Tensor, p: float) : Tensor =
        if p = 1.0 then a
        elif p = 0.0 then Op.constantOf (Elementwise.powScalar 0.0) a
        else
            Op.unary (Elementwise.powScalar p)
                (fun a _ da -> da * (p * a ** (p - 1.0)))
                (fun a _ g -> g * (p * a ** (p - 1.0)))
                a

    /// eᵃ: ∂f = f·da.
    static member Exp(a: Tensor) : Tensor =
        Op.unary Elementwise.exp (fun _ f da -> da * f) (fun _ f g -> g * f) a

    /// ln a: ∂f = da/a.
    static member Log(a: Tensor) : Tensor =
        Op.unary Elementwise.log (fun a _ da -> da / a) (fun a _ g -> g / a) a

    /// sin a: ∂f = cos(a)·da.
    static member Sin(a: Tensor) : Tensor =
        Op.unary Elementwise.sin (fun a _ da -> da * cos a) (fun a _ g -> g * cos a) a

    /// cos a: ∂f = −sin(a)·da.
    static member Cos(a: Tensor) : Tensor =
        Op.unary Elementwise.cos (fun a _ da -> -(da * sin a)) (fun a _ g -> -(g * sin a)) a

    /// tanh a: ∂f = (1 − f²)·da.
    static member Tanh(a: Tensor) : Tensor =
        Op.unary Elementwise.tanh (fun _ f da -> da * (1.0 - f * f)) (fun _ f g -> g * (1.0 - f * f)) a

    /// √a: ∂f = da / (2f).
    static member Sqrt(a: Tensor) : Tensor =
        Op.unary Elementwise.sqrt (fun _ f da -> da / (f * 2.0)) (fun _ f g -> g / (f * 2.0)) a

    /// |a|: ∂f = sign(a)·da (0 at 0, as PyTorch).
    static member Abs(a: Tensor) : Tensor =
        Op.unary Elementwise.abs
            (fun a _ da -> da * Op.constantOf Elementwise.sign a)
            (fun a _ g -> g * Op.constantOf Elementwise.sign a)
            a

    static member (+)(a: Tensor, b: float) = a + Tensor.Scalar b
    static member (+)(a: float, b: Tensor) = Tensor.Scalar a + b
    static member (-)(a: Tensor, b: float) = a - Tensor.Scalar b
    static member (-)(a: float, b: Tensor) = Tensor.Scalar a - b
    static member (*)(a: Tensor, b: float) = a * Tensor.Scalar b
    static member (*)(a: float, b: Tensor) = Tensor.Scalar a * b
    static member (/)(a: Tensor, b: float) = a / Tensor.Scalar b
    static member (/)(a: float, b: Tensor) = Tensor.Scalar a / b

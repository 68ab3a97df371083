namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Differentiable ops that rearrange values: reshape, permute, slice, pad, repeat, concat, stack, split, flip.
/// Their rules are their own inverses (or the inverse op), so they stay cheap at every level.
[<AutoOpen>]
module TensorShaping =

    type Tensor with

        /// The same values under a new shape (one dimension may be -1, inferred). Storage is shared.
        [<CompiledName("Reshape")>]
        member a.Reshape(shape: int[]) : Tensor =
            if isNull shape then nullArg "shape"
            if Shape.equal shape a.Shape then a
            else
                let target = (Layout.reshape shape a.Value).Shape
                Op.unary (Layout.reshape target)
                    (fun _ _ da -> da.Reshape target)
                    (fun a _ g -> g.Reshape a.Shape)
                    a

        /// Reorders dimensions: output dimension i is input dimension perm[i] (negative counts from the end,
        /// as PyTorch).
        [<CompiledName("Permute")>]
        member a.Permute(perm: int[]) : Tensor =
            if isNull perm then nullArg "perm"
            let perm = Layout.normalizePermutation a.Rank perm
            let inverse = Layout.inversePermutation perm
            Op.unary (Layout.permute perm)
                (fun _ _ da -> da.Permute perm)
                (fun _ _ g -> g.Permute inverse)
                a

        /// Swaps two dimensions.
        [<CompiledName("Transpose")>]
        member a.Transpose(dim0: int, dim1: int) : Tensor = a.Permute(Layout.swapPermutation a.Rank dim0 dim1)

        /// The transpose of a matrix. F# ignores CompiledName on an extension property's getter, so C# reaches it
        /// as the facade's own `T`.
        member a.T: Tensor =
            if a.Rank <> 2 then Shape.fail "T" (sprintf "needs a matrix, got shape %s" (Shape.format a.Shape))
            a.Permute [| 1; 0 |]

        /// The `length` entries from `start` along `dim`.
        [<CompiledName("Slice")>]
        member a.Slice(dim: int, start: int, length: int) : Tensor =
            let dim = Shape.normalizeDim "slice" a.Rank dim
            let size = a.Shape.[dim]
            Op.unarySparse (Layout.slice dim start length)
                (fun _ _ da -> da.Slice(dim, start, length))
                (fun _ _ g ->
                    Sparse((fun () -> g.Unslice(dim, start, size)),
                           fun buffer ->
                               match g with
                               | Op.Raw r -> Layout.addSliceInto buffer dim start size r; true
                               | _ -> false))
                a

        /// `a` placed at `start` along `dim` in zeros whose `dim` has `size` entries: the adjoint of Slice.
        [<CompiledName("Unslice")>]
        member a.Unslice(dim: int, start: int, size: int) : Tensor =
            let dim = Shape.normalizeDim "unslice" a.Rank dim
            let length = a.Shape.[dim]
            Op.unary (Layout.unslice dim start size)
                (fun _ _ da -> da.Unslice(dim, start, size))
                (fun _ _ g -> g.Slice(dim, start, length))
                a

        /// The `length` entries from `start` along `dim`, a negative start counting from the end (torch.narrow).
        [<CompiledName("Narrow")>]
        member a.Narrow(dim: int, start: int, length: int) : Tensor =
            let dim = Shape.normalizeDim "narrow" a.Rank dim
            let size = a.Shape.[dim]
            let first = if start < 0 then start + size else start
            if first < 0 || length < 0 || first + length > size then
                Shape.fail "narrow" (sprintf "%d entries from %d are out of range for dimension %d of shape %s" length start dim (Shape.format a.Shape))
            a.Slice(dim, first, length)

        /// Entry `index` along `dim` (negative counts from the end), with that dimension removed.
        [<CompiledName("Select")>]
        member a.Select(dim: int, index: int) : Tensor =
            let dim = Shape.normalizeDim "select" a.Rank dim
            a.Narrow(dim, index, 1).Reshape(Array.removeAt dim a.Shape)

        /// A new dimension of size 1 at `dim` (0..rank).
        [<CompiledName("Unsqueeze")>]
        member a.Unsqueeze(dim: int) : Tensor =
            let dim = Shape.normalizeDim "unsqueeze" (a.Rank + 1) dim
            a.Reshape(Array.insertAt dim 1 a.Shape)

        /// Removes dimension `dim`, which must have size 1.
        [<CompiledName("Squeeze")>]
        member a.Squeeze(dim: int) : Tensor =
            let dim = Shape.normalizeDim "squeeze" a.Rank dim
            if a.Shape.[dim] <> 1 then
                Shape.fail "squeeze" (sprintf "dimension %d of shape %s has size %d, not 1" dim (Shape.format a.Shape) a.Shape.[dim])
            a.Reshape(Array.removeAt dim a.Shape)

        /// `a` with `before` entries of `value` ahead of it along `dim` and `after` behind it (constant padding,
        /// torch.nn.functional.pad on one dimension; negative padding is refused, use Narrow to crop):
        /// ∂f = da padded with zeros; ā = the middle slice of ḡ, so the padding gets no gradient.
        [<CompiledName("Pad")>]
        member a.Pad(dim: int, before: int, after: int, ?value: float) : Tensor =
            let value = defaultArg value 0.0
            let dim = Shape.normalizeDim "pad" a.Rank dim
            let length = a.Shape.[dim]
            Op.unary (Layout.pad dim before after value)
                (fun _ _ da -> da.Pad(dim, before, after))
                (fun _ _ g -> g.Slice(dim, before, length))
                a

        /// `a` padded on every dimension: `padding.[d]` is (before, after) for dimension d, outermost first.
        /// torch.nn.functional.pad lists pairs from the last dimension backwards instead; here every
        /// dimension is named, in the order of the shape.
        [<CompiledName("Pad")>]
        member a.Pad(padding: (int * int)[], ?value: float) : Tensor =
            if isNull padding then nullArg "padding"
            if padding.Length <> a.Rank then
                Shape.fail "pad" (sprintf "%d (before, after) pairs for a tensor of shape %s, which needs one per dimension" padding.Length (Shape.format a.Shape))
            let value = defaultArg value 0.0
            padding |> Array.indexed |> Array.fold (fun (t: Tensor) (d, (before, after)) -> t.Pad(d, before, after, value)) a

        /// `a` tiled `counts.[d]` times along each dimension (torch.Tensor.repeat). Extra leading counts add
        /// leading dimensions. It is a broadcast of `a` across new interleaved dimensions, so its adjoint sums
        /// the tiles.
        [<CompiledName("Repeat")>]
        member a.Repeat(counts: int[]) : Tensor =
            if isNull counts then nullArg "counts"
            if counts.Length < a.Rank || Array.exists (fun c -> c < 0) counts then
                Shape.fail "repeat" (sprintf "counts %s must be non-negative, one for each of the %d dimensions of shape %s or more" (Shape.format counts) a.Rank (Shape.format a.Shape))
            let shape = Array.append (Array.create (counts.Length - a.Rank) 1) a.Shape
            // (s0, s1, ...) → (1, s0, 1, s1, ...) → broadcast to (c0, s0, c1, s1, ...) → (c0·s0, c1·s1, ...)
            let spread = Array.concat [ for s in shape -> [| 1; s |] ]
            let tiled = Array.concat [ for d in 0 .. shape.Length - 1 -> [| counts.[d]; shape.[d] |] ]
            a.Reshape(spread).BroadcastTo(tiled).Reshape(Array.map2 (*) counts shape)

        /// Reverses the order along `dim`.
        [<CompiledName("Flip")>]
        member a.Flip(dim: int) : Tensor =
            let dim = Shape.normalizeDim "flip" a.Rank dim
            Op.unary (Layout.flip dim) (fun _ _ da -> da.Flip dim) (fun _ _ g -> g.Flip dim) a

        /// Joins tensors along `dim`; the adjoint of each part is its slice of the output's adjoint.
        [<CompiledName("Concat")>]
        static member Concat(parts: Tensor seq, dim: int) : Tensor =
            if isNull parts then nullArg "parts"
            let parts = Array.ofSeq parts
            if parts.Length = 0 then Shape.fail "concat" "needs at least one tensor"
            let dim = Shape.normalizeDim "concat" parts.[0].Rank dim
            let offsets = parts |> Array.scan (fun o (p: Tensor) -> o + p.Shape.[dim]) 0
            if parts.Length = 1 then parts.[0]
            else
                Op.nary (Layout.concat dim)
                    (fun xs _ tangents ->
                        let ts = Array.map2 (fun (x: Tensor) t -> match t with ValueSome d -> d | ValueNone -> Tensor.Constant(RawTensor.zeros x.Shape)) xs tangents
                        Tensor.Concat(ts, dim))
                    (fun xs _ g i -> g.Slice(dim, offsets.[i], xs.[i].Shape.[dim]))
                    parts

        /// Stacks tensors of one shape along a new dimension `dim`.
        [<CompiledName("Stack")>]
        static member Stack(parts: Tensor seq, dim: int) : Tensor =
            if isNull parts then nullArg "parts"
            let parts = Array.ofSeq parts
            if parts.Length = 0 then Shape.fail "stack" "needs at least one tensor"
            for p in parts do
                if not (Shape.equal p.Shape parts.[0].Shape) then
                    Shape.fail "stack" (sprintf "shapes %s and %s differ" (Shape.format parts.[0].Shape) (Shape.format p.Shape))
            Tensor.Concat(parts |> Array.map (fun p -> p.Unsqueeze dim), dim)

        /// Splits along `dim` into consecutive parts of the given sizes, which must add up to the dimension.
        [<CompiledName("Split")>]
        member a.Split(sizes: int[], dim: int) : Tensor[] =
            if isNull sizes then nullArg "sizes"
            let dim = Shape.normalizeDim "split" a.Rank dim
            if Array.sum sizes <> a.Shape.[dim] || Array.exists (fun s -> s < 0) sizes then
                Shape.fail "split" (sprintf "sizes %A do not partition dimension %d of shape %s" sizes dim (Shape.format a.Shape))
            let offsets = Array.scan (+) 0 sizes
            Array.init sizes.Length (fun i -> a.Slice(dim, offsets.[i], sizes.[i]))

        /// Splits along `dim` into `chunks` equal parts (the dimension must divide evenly).
        [<CompiledName("Chunk")>]
        member a.Chunk(chunks: int, dim: int) : Tensor[] =
            let dim = Shape.normalizeDim "chunk" a.Rank dim
            if chunks <= 0 || a.Shape.[dim] % chunks <> 0 then
                Shape.fail "chunk" (sprintf "dimension %d of shape %s does not split into %d equal chunks" dim (Shape.format a.Shape) chunks)
            a.Split(Array.create chunks (a.Shape.[dim] / chunks), dim)

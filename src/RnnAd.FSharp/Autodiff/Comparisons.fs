namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Element-wise minimum and maximum, differentiable with PyTorch's rule at ties, and comparisons, which
/// give constant 0/1 masks (not differentiable). All broadcast.
[<AutoOpen>]
module TensorComparisons =

    /// d times a min/max share (1, ½ or 0), with the zero share selected rather than multiplied in: an
    /// infinite d where the other operand won gives 0, as in PyTorch, not NaN.
    let private route (share: RawTensor) (d: Tensor) = Op.keepWhere share (d * Tensor.Constant share)

    /// max or min by its kernel; `share x y` gives the part of the derivative x gets against y:
    /// ∂f = share(a, b)·da + share(b, a)·db.
    let private extremum kernel (share: RawTensor -> RawTensor -> RawTensor) (a: Tensor) (b: Tensor) : Tensor =
        Op.binary kernel
            (fun a b f da -> route (share a.Value b.Value) (da.BroadcastTo f.Shape))
            (fun a b f db -> route (share b.Value a.Value) (db.BroadcastTo f.Shape))
            (fun a b _ g -> (route (share a.Value b.Value) g).SumToShape a.Shape)
            (fun a b _ g -> (route (share b.Value a.Value) g).SumToShape b.Shape)
            a b

    /// A constant 0/1 mask from a comparison kernel.
    let private mask kernel (a: Tensor) (b: Tensor) : Tensor = Tensor.Constant(kernel a.Value b.Value)

    type Tensor with

        /// max(a, b) element-wise (NaN wins): ∂f = s·da + s′·db with s = 1 where a > b, ½ where a = b, 0 where
        /// a < b, and s′ the same with a and b swapped. The halves on ties are PyTorch's rule (torch.maximum);
        /// where either is NaN both shares are 1, also as PyTorch.
        [<CompiledName("Maximum")>]
        static member Maximum(a: Tensor, b: Tensor) : Tensor = extremum Elementwise.maximum Elementwise.maximumShare a b

        /// min(a, b) element-wise (NaN wins): ∂f = s·da + s′·db with s = 1 where a < b, ½ where a = b, 0 where
        /// a > b, and s′ the same with a and b swapped (PyTorch's torch.minimum).
        [<CompiledName("Minimum")>]
        static member Minimum(a: Tensor, b: Tensor) : Tensor = extremum Elementwise.minimum Elementwise.minimumShare a b

        /// 1 where a > b, else 0: a constant.
        [<CompiledName("Greater")>]
        member a.Greater(b: Tensor) : Tensor = mask Elementwise.greater a b
        /// 1 where a > b, else 0: a constant.
        [<CompiledName("Greater")>]
        member a.Greater(b: float) : Tensor = mask Elementwise.greater a (Tensor.Scalar b)

        /// 1 where a ≥ b, else 0: a constant.
        [<CompiledName("GreaterEqual")>]
        member a.GreaterEqual(b: Tensor) : Tensor = mask Elementwise.greaterEqual a b
        /// 1 where a ≥ b, else 0: a constant.
        [<CompiledName("GreaterEqual")>]
        member a.GreaterEqual(b: float) : Tensor = mask Elementwise.greaterEqual a (Tensor.Scalar b)

        /// 1 where a < b, else 0: a constant.
        [<CompiledName("Less")>]
        member a.Less(b: Tensor) : Tensor = mask Elementwise.less a b
        /// 1 where a < b, else 0: a constant.
        [<CompiledName("Less")>]
        member a.Less(b: float) : Tensor = mask Elementwise.less a (Tensor.Scalar b)

        /// 1 where a ≤ b, else 0: a constant.
        [<CompiledName("LessEqual")>]
        member a.LessEqual(b: Tensor) : Tensor = mask Elementwise.lessEqual a b
        /// 1 where a ≤ b, else 0: a constant.
        [<CompiledName("LessEqual")>]
        member a.LessEqual(b: float) : Tensor = mask Elementwise.lessEqual a (Tensor.Scalar b)

        /// 1 where a = b, else 0: a constant.
        [<CompiledName("Equal")>]
        member a.Equal(b: Tensor) : Tensor = mask Elementwise.equal a b
        /// 1 where a = b, else 0: a constant.
        [<CompiledName("Equal")>]
        member a.Equal(b: float) : Tensor = mask Elementwise.equal a (Tensor.Scalar b)

        /// 1 where a ≠ b (or either is NaN), else 0: a constant.
        [<CompiledName("NotEqual")>]
        member a.NotEqual(b: Tensor) : Tensor = mask Elementwise.notEqual a b
        /// 1 where a ≠ b (or either is NaN), else 0: a constant.
        [<CompiledName("NotEqual")>]
        member a.NotEqual(b: float) : Tensor = mask Elementwise.notEqual a (Tensor.Scalar b)

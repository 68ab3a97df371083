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

    type Tensor with

        /// max(a, b) element-wise (NaN wins): ∂f = s·da + s′·db with s = 1 where a > b, ½ where a = b, 0 where
        /// a < b, and s′ the same with a and b swapped. The halves on ties are PyTorch's rule (torch.maximum);
        /// where either is NaN both shares are 1, also as PyTorch.
        static member Maximum(a: Tensor, b: Tensor) : Tensor =
            Op.binary Elementwise.maximum
                (fun a b f da -> route (Elementwise.maximumShare a.Value b.Value) (da.BroadcastTo f.Shape))
                (fun a b f db -> route (Elementwise.maximumShare b.Value a.Value) (db.BroadcastTo f.Shape))
                (fun a b _ g -> (route (Elementwise.maximumShare a.Value b.Value) g).SumToShape a.Shape)
                (fun a b _ g -> (route (Elementwise.maximumShare b.Value a.Value) g).SumToShape b.Shape)
                a b

        /// min(a, b) element-wise (NaN wins): ∂f = s·da + s′·db with s = 1 where a < b, ½ where a = b, 0 where
        /// a > b, and s′ the same with a and b swapped (PyTorch's torch.minimum).
        static member Minimum(a: Tensor, b: Tensor) : Tensor =
            Op.binary Elementwise.minimum
                (fun a b f da -> route (Elementwise.minimumShare a.Value b.Value) (da.BroadcastTo f.Shape))
                (fun a b f db -> route (Elementwise.minimumShare b.Value a.Value) (db.BroadcastTo f.Shape))
                (fun a b _ g -> (route (Elementwise.minimumShare a.Value b.Value) g).SumToShape a.Shape)
                (fun a b _ g -> (route (Elementwise.minimumShare b.Value a.Value) g).SumToShape b.Shape)
                a b

        /// 1 where a > b, else 0: a constant.
        member a.Greater(b: Tensor) : Tensor = Tensor.Constant(Elementwise.greater a.Value b.Value)
        /// 1 where a > b, else 0: a constant.
        member a.Greater(b: float) : Tensor = a.Greater(Tensor.Scalar b)

        /// 1 where a ≥ b, else 0: a constant.
        member a.GreaterEqual(b: Tensor) : Tensor = Tensor.Constant(Elementwise.greaterEqual a.Value b.Value)
        /// 1 where a ≥ b, else 0: a constant.
        member a.GreaterEqual(b: float) : Tensor = a.GreaterEqual(Tensor.Scalar b)

        /// 1 where a < b, else 0: a constant.
        member a.Less(b: Tensor) : Tensor = Tensor.Constant(Elementwise.less a.Value b.Value)
        /// 1 where a < b, else 0: a constant.
        member a.Less(b: float) : Tensor = a.Less(Tensor.Scalar b)

        /// 1 where a ≤ b, else 0: a constant.
        member a.LessEqual(b: Tensor) : Tensor = Tensor.Constant(Elementwise.lessEqual a.Value b.Value)
        /// 1 where a ≤ b, else 0: a constant.
        member a.LessEqual(b: float) : Tensor = a.LessEqual(Tensor.Scalar b)

        /// 1 where a = b, else 0: a constant.
        member a.Equal(b: Tensor) : Tensor = Tensor.Constant(Elementwise.equal a.Value b.Value)
        /// 1 where a = b, else 0: a constant.
        member a.Equal(b: float) : Tensor = a.Equal(Tensor.Scalar b)

        /// 1 where a ≠ b (or either is NaN), else 0: a constant.
        member a.NotEqual(b: Tensor) : Tensor = Tensor.Constant(Elementwise.notEqual a.Value b.Value)
        /// 1 where a ≠ b (or either is NaN), else 0: a constant.
        member a.NotEqual(b: float) : Tensor = a.NotEqual(Tensor.Scalar b)

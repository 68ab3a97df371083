namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Differentiable measures of spread and size: variance, standard deviation and p-norms, over everything or
/// along one dimension.
[<AutoOpen>]
module TensorStatistics =

    /// The divisor of a variance over `n` entries: n − 1 for the unbiased estimate (Bessel's correction), else
    /// n. PyTorch returns NaN when it is not positive; here that is an error naming the shape, as a NaN
    /// would only surface later.
    let private degreesOfFreedom (op: string) (shape: int[]) (dim: int) (unbiased: bool) : float =
        let n = shape.[dim]
        let dof = if unbiased then n - 1 else n
        if dof <= 0 then
            Shape.fail op (sprintf "%s variance needs at least %d entries along dimension %d, shape %s has %d"
                               (if unbiased then "the unbiased" else "a") (if unbiased then 2 else 1) dim (Shape.format shape) n)
        float dof

    type Tensor with

        /// The p-norm along `dim`, (Σ|a|ᵖ)^(1/p), for finite p ≥ 1 (PyTorch also takes p < 1, ∞ and 0, which
        /// are not norms; |a|.Max gives ∞). ∂f/∂a = sign(a)·|a|^(p−1) / f^(p−1), which is a/f for p = 2 and
        /// sign(a) for p = 1; at f = 0 it is 0, as in PyTorch (a subgradient: the norm has a corner there).
        [<CompiledName("Norm")>]
        member a.Norm(p: float, dim: int, ?keepDim: bool) : Tensor =
            if not (p >= 1.0) || System.Double.IsInfinity p then
                Shape.fail "norm" (sprintf "p must be finite and at least 1, got %g" p)
            let keepDim = defaultArg keepDim false
            let dim = Shape.normalizeDim "norm" a.Rank dim
            let kept = Shape.reduce a.Shape dim true
            let slope (a: Tensor) (f: Tensor) =
                let f = f.Reshape kept
                // Divide by f only where it is not 0 and select 0 there: a product with a mask or a division
                // left in the branch not taken would give NaN at the corner, at this order or the next.
                let atZero = Elementwise.equal f.Value (RawTensor.scalar 0.0)
                let safe = Tensor.Where(atZero, Tensor.Scalar 1.0, f)
                let zero = Tensor.Scalar 0.0
                if p = 1.0 then Op.constantOf Elementwise.sign a
                elif p = 2.0 then Tensor.Where(atZero, zero, a / safe)
                else Tensor.Where(atZero, zero, Op.constantOf Elementwise.sign a * abs a ** (p - 1.0) / safe ** (p - 1.0))
            Op.unary (Reductions.normDim p dim keepDim)
                (fun a f da -> (da * slope a f).Sum(dim, keepDim))
                (fun a f g -> g.Reshape kept * slope a f)
                a

        /// The p-norm of all elements (p = 2 by default), as a scalar; see Norm(p, dim).
        [<CompiledName("Norm")>]
        member a.Norm(?p: float) : Tensor = a.Reshape([| a.Numel |]).Norm(defaultArg p 2.0, 0)

        /// The variance along `dim`: Σ (a − mean)² / (n − 1), or / n when `unbiased` is false (unbiased by
        /// default, as PyTorch). Composed of differentiable ops: ∂f = 2 Σ (a − mean)·da / (n − 1).
        [<CompiledName("Var")>]
        member a.Var(dim: int, ?keepDim: bool, ?unbiased: bool) : Tensor =
            let dim = Shape.normalizeDim "var" a.Rank dim
            let dof = degreesOfFreedom "var" a.Shape dim (defaultArg unbiased true)
            let deviation = a - a.Mean(dim, true)
            (deviation * deviation).Sum(dim, defaultArg keepDim false) / dof

        /// The variance of all elements, as a scalar; see Var(dim).
        [<CompiledName("Var")>]
        member a.Var(?unbiased: bool) : Tensor = a.Reshape([| a.Numel |]).Var(0, false, defaultArg unbiased true)

        /// The standard deviation along `dim`, √Var (unbiased by default, as PyTorch). It is the 2-norm of the
        /// deviations from the mean over √(n − 1), so its gradient where all entries are equal is 0, as in
        /// PyTorch, rather than the NaN of √ at 0.
        [<CompiledName("Std")>]
        member a.Std(dim: int, ?keepDim: bool, ?unbiased: bool) : Tensor =
            let dim = Shape.normalizeDim "std" a.Rank dim
            let dof = degreesOfFreedom "std" a.Shape dim (defaultArg unbiased true)
            (a - a.Mean(dim, true)).Norm(2.0, dim, defaultArg keepDim false) / sqrt dof

        /// The standard deviation of all elements, as a scalar; see Std(dim).
        [<CompiledName("Std")>]
        member a.Std(?unbiased: bool) : Tensor = a.Reshape([| a.Numel |]).Std(0, false, defaultArg unbiased true)

namespace RnnAd.FSharp.Reference

open RnnAd
open System
open MathNet.Numerics.LinearAlgebra
open RnnAd.FSharp
open RnnAd.FSharp.Storage

/// MathNet dense matrices for the hand-written passes, and their conversions to and from RnnAd tensors.
/// RnnAd tensors are row-major, MathNet stores column-major: every conversion goes through the explicit
/// row-major builders so no transposition slips in. Tensors are read through their values only; nothing
/// here touches the AD engine.
[<RequireQualifiedAccess>]
module internal Dense =

    /// A (rows, columns) tensor as a matrix.
    let ofTensor (what: string) (t: Tensor) : Matrix<float> =
        if t.Rank <> 2 then invalidArg what (sprintf "'%s' must be a matrix, got shape %A" what t.Shape)
        Matrix<float>.Build.DenseOfRowMajor(t.Shape.[0], t.Shape.[1], t.ToArray())

    /// A (n) tensor as a vector.
    let vectorOfTensor (what: string) (t: Tensor) : Vector<float> =
        if t.Rank <> 1 then invalidArg what (sprintf "'%s' must be a vector, got shape %A" what t.Shape)
        Vector<float>.Build.DenseOfArray(t.ToArray())

    /// A matrix as a (rows, columns) tensor.
    let toTensor (m: Matrix<float>) : Tensor = Tensor.OfArray([| m.RowCount; m.ColumnCount |], m.ToRowMajorArray())

    /// A vector as a (n) tensor.
    let vectorToTensor (v: Vector<float>) : Tensor = Tensor.OfArray([| v.Count |], v.ToArray())

    /// A (rows, columns) matrix of zeros.
    let zeros (rows: int) (columns: int) : Matrix<float> = Matrix<float>.Build.Dense(rows, columns)

    /// A vector of n zeros.
    let zeroVector (n: int) : Vector<float> = Vector<float>.Build.Dense n

    /// m + 1·vᵀ: the vector added to every row (a bias on a batch).
    let addRow (v: Vector<float>) (m: Matrix<float>) : Matrix<float> = m.MapIndexed((fun _ j x -> x + v.[j]), Zeros.Include)

    /// f applied to every entry.
    let map (f: float -> float) (m: Matrix<float>) : Matrix<float> = m.Map(f, Zeros.Include)

    /// f applied entry by entry to two matrices of the same size.
    let map2 (f: float -> float -> float) (a: Matrix<float>) (b: Matrix<float>) : Matrix<float> = a.Map2(f, b, Zeros.Include)

    /// The entry-wise (Hadamard) product a ⊙ b.
    let hadamard (a: Matrix<float>) (b: Matrix<float>) : Matrix<float> = a.PointwiseMultiply b

    /// `count` columns from `start`: one gate block of a stacked pre-activation.
    let columns (start: int) (count: int) (m: Matrix<float>) : Matrix<float> = m.SubMatrix(0, m.RowCount, start, count)

    /// Blocks side by side, [a | b | …] (the inverse of `columns`).
    let concatColumns (blocks: Matrix<float>[]) : Matrix<float> = blocks |> Array.reduce (fun a b -> a.Append b)

    /// Row i of `a` where keep.[i], else row i of `b`.
    let selectRows (keep: bool[]) (a: Matrix<float>) (b: Matrix<float>) : Matrix<float> =
        Matrix<float>.Build.Dense(a.RowCount, a.ColumnCount, fun i j -> if keep.[i] then a.[i, j] else b.[i, j])

    /// The logistic function. The reference derives its own gradients but shares the storage kernels'
    /// elementary functions, so forward values agree to the last bit with the AD side's and the comparison
    /// measures the derivatives alone (`VectorMath` is tested against exact values on its own).
    let sigmoid (x: float) : float = VectorMath.sigmoid x

    /// tanh x, shared with the storage kernels for the reason given at `sigmoid`.
    let tanh (x: float) : float = VectorMath.tanh x

    /// max(x, 0), NaN kept.
    let relu (x: float) : float = if x > 0.0 then x elif Double.IsNaN x then x else 0.0

    /// relu'(x) = [x > 0]: 0 at the kink, as PyTorch and the AD side.
    let reluSlope (x: float) : float = if x > 0.0 then 1.0 else 0.0

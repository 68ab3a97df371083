namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Constant tensors: the starting points of computations, differentiated only when passed to `Ad`.
[<AutoOpen>]
module TensorCreation =

    type Tensor with

        /// All zeros.
        [<CompiledName("Zeros")>]
        static member Zeros(shape: int[]) : Tensor = Tensor.Constant(RawTensor.zeros shape)

        /// All ones.
        [<CompiledName("Ones")>]
        static member Ones(shape: int[]) : Tensor = Tensor.Constant(RawTensor.ones shape)

        /// Filled with one value.
        [<CompiledName("Full")>]
        static member Full(shape: int[], value: float) : Tensor = Tensor.Constant(RawTensor.full shape value)

        /// From row-major values (copied).
        [<CompiledName("OfArray")>]
        static member OfArray(shape: int[], values: float[]) : Tensor = Tensor.Constant(RawTensor.ofArray shape values)

        /// A vector.
        [<CompiledName("OfArray")>]
        static member OfArray(values: float[]) : Tensor = Tensor.Constant(RawTensor.ofArray1 values)

        /// A matrix from rows.
        [<CompiledName("OfArray")>]
        static member OfArray(rows: float[][]) : Tensor = Tensor.Constant(RawTensor.ofArray2 rows)

        /// A rank-3 tensor from blocks of rows.
        [<CompiledName("OfArray")>]
        static member OfArray(blocks: float[][][]) : Tensor = Tensor.Constant(RawTensor.ofArray3 blocks)

        /// `start, start + step, ...` below `stop`.
        [<CompiledName("Arange")>]
        static member Arange(start: float, stop: float, ?step: float) : Tensor =
            Tensor.Constant(RawTensor.arange start stop (defaultArg step 1.0))

        /// The n×n identity.
        [<CompiledName("Eye")>]
        static member Eye(n: int) : Tensor = Tensor.Constant(RawTensor.eye n)

        /// N(mean, std²) samples from an explicit seed.
        [<CompiledName("RandomNormal")>]
        static member RandomNormal(seed: int, shape: int[], ?mean: float, ?std: float) : Tensor =
            Tensor.Constant(RawTensor.randomNormal seed (defaultArg mean 0.0) (defaultArg std 1.0) shape)

        /// U[low, high) samples from an explicit seed.
        [<CompiledName("RandomUniform")>]
        static member RandomUniform(seed: int, shape: int[], ?low: float, ?high: float) : Tensor =
            Tensor.Constant(RawTensor.randomUniform seed (defaultArg low 0.0) (defaultArg high 1.0) shape)

        /// One-hot rows of shape `indexShape @ [classes]`.
        [<CompiledName("OneHot")>]
        static member OneHot(classes: int, indices: int[], ?indexShape: int[]) : Tensor =
            if isNull indices then nullArg "indices"
            Tensor.Constant(Indexing.oneHot classes (defaultArg indexShape [| indices.Length |]) indices)

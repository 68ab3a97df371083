namespace RnnAd.FSharp

open System
open RnnAd
open RnnAd.FSharp.Storage

/// Ops defined by their users, with their own derivative rules, differentiated like the library's own.
[<RequireQualifiedAccess>]
module CustomOp =

    /// Defines a differentiable op from a raw kernel and two derivative rules, and returns it as a function
    /// of its inputs.
    /// - `value xs` computes the output from the inputs' raw values.
    /// - `forward xs f dxs` gives the output's tangent from the inputs xs, the output f and the inputs'
    ///   tangents dxs (zeros for an input not being differentiated): J·dx, a tensor of f's shape.
    /// - `reverse xs f g` gives the inputs' adjoints from the output's adjoint g: Jᵀ·g, one tensor per
    ///   input, of its shape.
    /// Write the rules with Tensor ops on xs and f, not on their raw values: nested differentiation (a
    /// gradient of a gradient, forward-over-reverse Hessian-vector products) then differentiates the rules
    /// themselves. A rule that returns a wrong shape or count raises an ArgumentException naming the op.
    /// Example, softsign f = x / (1 + |x|) with f' = 1 / (1 + |x|)²:
    ///     let softsign =
    ///         CustomOp.define "softsign"
    ///             (fun xs -> Elementwise.div xs.[0] (Elementwise.add (RawTensor.scalar 1.0) (Elementwise.abs xs.[0])))
    ///             (fun xs _ dxs -> dxs.[0] / (1.0 + abs xs.[0]) ** 2.0)
    ///             (fun xs _ g -> [| g / (1.0 + abs xs.[0]) ** 2.0 |])
    ///     let y = softsign [| x |]
    [<CompiledName("Define")>]
    let define
        (name: string)
        (value: RawTensor[] -> RawTensor)
        (forward: Tensor[] -> Tensor -> Tensor[] -> Tensor)
        (reverse: Tensor[] -> Tensor -> Tensor -> Tensor[])
        : Tensor[] -> Tensor =
        if String.IsNullOrWhiteSpace name then invalidArg "name" "a custom op needs a name, for its error messages"
        if isNull (box value) then nullArg "value"
        if isNull (box forward) then nullArg "forward"
        if isNull (box reverse) then nullArg "reverse"
        let op = sprintf "custom op '%s'" name
        let raw (xs: RawTensor[]) =
            let f = value xs
            if isNull (box f) then Shape.fail op "the value kernel returned null"
            f
        let tangent (xs: Tensor[]) (f: Tensor) (dxs: Tensor voption[]) =
            let dxs = Array.map2 (fun (x: Tensor) dx -> match dx with ValueSome d -> d | ValueNone -> Tensor.Zeros x.Shape) xs dxs
            let df = forward xs f dxs
            if isNull (box df) then Shape.fail op "the forward rule returned null"
            if not (Shape.equal df.Shape f.Shape) then
                Shape.fail op (sprintf "the forward rule returned a tangent of shape %s for an output of shape %s" (Shape.format df.Shape) (Shape.format f.Shape))
            df
        let adjoints (xs: Tensor[]) (f: Tensor) (g: Tensor) =
            let gs = reverse xs f g
            if isNull gs then Shape.fail op "the reverse rule returned null"
            if gs.Length <> xs.Length then
                Shape.fail op (sprintf "the reverse rule returned %d adjoints for %d inputs" gs.Length xs.Length)
            for i in 0 .. gs.Length - 1 do
                if isNull (box gs.[i]) then Shape.fail op (sprintf "the reverse rule returned null for input %d" i)
                if not (Shape.equal gs.[i].Shape xs.[i].Shape) then
                    Shape.fail op (sprintf "the reverse rule returned an adjoint of shape %s for input %d of shape %s" (Shape.format gs.[i].Shape) i (Shape.format xs.[i].Shape))
            gs
        fun (inputs: Tensor[]) ->
            if isNull inputs then nullArg "inputs"
            if Array.exists (fun x -> isNull (box x)) inputs then nullArg "inputs"
            // The engine asks for one input's adjoint at a time; the rule gives them all, so one call of it
            // serves every input of the same backward step.
            let last = ref ValueNone
            let adjointOf (xs: Tensor[]) (f: Tensor) (g: Tensor) (i: int) =
                match last.Value with
                | ValueSome (xs', g', gs: Tensor[]) when obj.ReferenceEquals(xs', xs) && obj.ReferenceEquals(g', g) -> gs.[i]
                | _ ->
                    let gs = adjoints xs f g
                    last.Value <- ValueSome(xs, g, gs)
                    gs.[i]
            Op.nary raw tangent adjointOf (Array.copy inputs)

namespace RnnAd.FSharp

open RnnAd
open System.Collections.Generic
open System.Threading
open RnnAd.FSharp.Storage

/// The reverse sweep: propagates adjoints from an output back through its recorded ops. It is iterative
/// (explicit stacks, no recursion), so a 10,000-step recurrence cannot overflow the call stack, and it
/// visits each node once, after all its consumers, by counting fan-out (docs/ARCHITECTURE.md §3.2).
[<RequireQualifiedAccess>]
module internal Reverse =

    let mutable private lastSweep = 0L

    /// Adds a dense contribution to a node's adjoint. Constant adjoints the sweep allocated itself are added
    /// into in place: a weight read at every time step then costs one buffer, not one per step.
    let private accumulateDense (node: ReverseNode) (contribution: Tensor) =
        if isNull (box node.Adjoint) then
            node.Adjoint <- contribution
            node.OwnsAdjoint <- false
        else
        match node.Adjoint, contribution with
        | TensorC acc, TensorC c when node.OwnsAdjoint ->
            let dst = acc.Data
            let src = c.Data
            for i in 0 .. dst.Length - 1 do
                dst.[i] <- dst.[i] + src.[i]
        | TensorC acc, TensorC c ->
            node.Adjoint <- TensorC(Elementwise.add acc c)
            node.OwnsAdjoint <- true
        | acc, c -> node.Adjoint <- acc + c

    /// Adds one contribution to a node's adjoint. A sparse one adds itself into an owned constant buffer
    /// (allocated, or copied from a shared adjoint, the first time); under nested differentiation it is
    /// built as a tensor instead.
    let private accumulate (node: ReverseNode) (primal: Tensor) (contribution: Contribution) =
        let check (t: Tensor) =
            if not (Shape.equal t.Shape primal.Shape) then
                invalidOp (sprintf "reverse rule bug: adjoint of shape %s for a value of shape %s" (Shape.format t.Shape) (Shape.format primal.Shape))
        match contribution with
        | Dense c ->
            check c
            accumulateDense node c
        | Sparse (materialize, addInto) ->
            let owned =
                match box node.Adjoint with
                | null -> Some(RawTensor.zeros primal.Shape)
                | _ ->
                    match node.Adjoint with
                    | TensorC acc when node.OwnsAdjoint -> Some acc
                    | TensorC acc -> Some(RawTensor.ofOwned acc.Shape (Array.copy acc.Data))
                    | _ -> None
            match owned with
            | Some buffer when addInto buffer.Data ->
                node.Adjoint <- TensorC buffer
                node.OwnsAdjoint <- true
            | _ ->
                let c = materialize ()
                check c
                accumulateDense node c

    /// Runs one sweep from `root` seeded with adjoint `seed` (of root's shape) and returns its id. Afterwards
    /// every node reachable from root holds its adjoint, marked with that id.
    let run (root: Tensor) (seed: Tensor) : int64 =
        match root with
        | TensorR (rootPrimal, rootNode, _) ->
            let sweep = Interlocked.Increment(&lastSweep)
            let init (n: ReverseNode) =
                n.Sweep <- sweep
                n.Fanout <- 0
                n.Adjoint <- Unchecked.defaultof<Tensor>
                n.OwnsAdjoint <- false
            // Pass 1: count, for every reachable node, how many reachable ops consume it.
            let stack = Stack<ReverseNode>()
            init rootNode
            stack.Push rootNode
            while stack.Count > 0 do
                for p in stack.Pop().Parents do
                    match p with
                    | TensorR (_, pn, _) ->
                        if pn.Sweep <> sweep then
                            init pn
                            stack.Push pn
                        pn.Fanout <- pn.Fanout + 1
                    | _ -> ()
            // Pass 2: a node propagates once its last consumer has contributed (reverse topological order).
            accumulate rootNode rootPrimal (Dense seed)
            stack.Push rootNode
            while stack.Count > 0 do
                let n = stack.Pop()
                let contributions = n.Backward n.Adjoint
                for i in 0 .. n.Parents.Length - 1 do
                    match n.Parents.[i] with
                    | TensorR (pp, pn, _) ->
                        accumulate pn pp contributions.[i]
                        pn.Fanout <- pn.Fanout - 1
                        if pn.Fanout = 0 then stack.Push pn
                    | _ -> ()
            sweep
        | _ -> 0L

    /// The adjoint a traced input received in the given sweep, or zeros of its shape if none reached it.
    let adjointOf (sweep: int64) (input: Tensor) : Tensor =
        match input with
        | TensorR (_, n, _) when n.Sweep = sweep && not (isNull (box n.Adjoint)) -> n.Adjoint
        | _ -> TensorC(RawTensor.zeros input.Shape)

namespace RnnAd.FSharp

open RnnAd
open System
open System.Collections.Generic
open RnnAd.FSharp.Storage

/// An ordered collection name → tensor: the one exchange format between models, gradients, optimizers,
/// the BPTT reference and checkpoints (docs/ARCHITECTURE.md §4). Names are unique; order is kept. Immutable.
[<Sealed>]
type NamedTensors(entries: (string * Tensor)[]) =
    let entries = Array.copy entries
    let index =
        let d = Dictionary<string, int>(StringComparer.Ordinal)
        entries |> Array.iteri (fun i (name, t) ->
            if String.IsNullOrEmpty name then invalidArg "entries" (sprintf "entry %d has an empty name" i)
            if isNull (box t) then invalidArg "entries" (sprintf "entry '%s' has no tensor" name)
            if not (d.TryAdd(name, i)) then invalidArg "entries" (sprintf "the name '%s' appears twice" name))
        d

    /// The names, in order.
    member _.Names: string[] = entries |> Array.map fst

    /// The tensors, in order.
    member _.Tensors: Tensor[] = entries |> Array.map snd

    /// The (name, tensor) pairs, in order.
    member _.Entries: (string * Tensor)[] = Array.copy entries

    /// Number of entries.
    member _.Count = entries.Length

    /// Whether a name is present.
    member _.Contains(name: string) = index.ContainsKey name

    /// The tensor of a name; a missing name raises `KeyNotFoundException` listing the names present.
    member _.Item
        with get (name: string) : Tensor =
            match index.TryGetValue name with
            | true, i -> snd entries.[i]
            | _ -> raise (KeyNotFoundException(sprintf "no tensor named '%s'; present: %s" name (String.Join(", ", Array.map fst entries))))

    /// The tensor of a name, if present.
    member _.TryFind(name: string) : Tensor option =
        match index.TryGetValue name with
        | true, i -> Some(snd entries.[i])
        | _ -> None

    /// Total number of scalar values over all tensors.
    member _.NumelTotal = entries |> Array.sumBy (fun (_, t) -> t.Numel)

    override _.ToString() =
        entries |> Array.map (fun (n, t) -> sprintf "%s %s" n (Shape.format t.Shape)) |> fun xs -> String.Join("; ", xs)

    interface IEnumerable<KeyValuePair<string, Tensor>> with
        member _.GetEnumerator() : IEnumerator<KeyValuePair<string, Tensor>> =
            (entries |> Seq.map (fun (n, t) -> KeyValuePair(n, t))).GetEnumerator()
        member this.GetEnumerator() : Collections.IEnumerator =
            ((this :> IEnumerable<KeyValuePair<string, Tensor>>).GetEnumerator()) :> Collections.IEnumerator

/// Functions over named tensors.
[<RequireQualifiedAccess>]
module NamedTensors =

    /// From (name, tensor) pairs, in order.
    let ofList (entries: (string * Tensor) list) : NamedTensors = NamedTensors(Array.ofList entries)

    /// From (name, tensor) pairs, in order.
    let ofArray (entries: (string * Tensor)[]) : NamedTensors = NamedTensors entries

    /// Applies `f name tensor` to every entry, keeping names and order.
    let map (f: string -> Tensor -> Tensor) (ps: NamedTensors) : NamedTensors =
        NamedTensors(ps.Entries |> Array.map (fun (n, t) -> n, f n t))

    /// Raises unless two collections have the same names in the same order and equal shapes per name.
    let checkCompatible (op: string) (a: NamedTensors) (b: NamedTensors) : unit =
        if a.Names <> b.Names then
            Shape.fail op (sprintf "the collections differ in names: [%s] vs [%s]" (String.Join(", ", a.Names)) (String.Join(", ", b.Names)))
        for (n, x), (_, y) in Array.zip a.Entries b.Entries do
            if not (Shape.equal x.Shape y.Shape) then
                Shape.fail op (sprintf "'%s' has shape %s in one collection and %s in the other" n (Shape.format x.Shape) (Shape.format y.Shape))

    /// Combines two collections with the same names and shapes entry by entry.
    let map2 (f: string -> Tensor -> Tensor -> Tensor) (a: NamedTensors) (b: NamedTensors) : NamedTensors =
        checkCompatible "map2" a b
        NamedTensors(Array.map2 (fun (n, x) (_, y) -> n, f n x y) a.Entries b.Entries)

    /// Σ over entries of ⟨a, b⟩.
    let dot (a: NamedTensors) (b: NamedTensors) : float =
        checkCompatible "dot" a b
        Array.fold2 (fun acc (x: Tensor) (y: Tensor) -> acc + (x * y).Sum().ToScalar()) 0.0 a.Tensors b.Tensors

    /// Zeros with the same names and shapes.
    let zerosLike (ps: NamedTensors) : NamedTensors = map (fun _ t -> Tensor.Zeros t.Shape) ps

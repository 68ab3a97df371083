namespace RnnAd.FSharp.Reference

open System
open System.Globalization
open System.Text
open RnnAd.FSharp

/// ‖∂L/∂h_t‖ over time for one layer and direction: how much of the loss's gradient reaches each step
/// (seed 001's vanishing gradient is these norms shrinking towards t = 0).
type GradientFlow =
    { /// `h_l0`, `h_l0_reverse`, …
      Name: string
      /// The layer, 0 at the bottom.
      Layer: int
      /// 0 forward, 1 backward (reads the sequence reversed).
      Direction: int
      /// Norms.[t] = Frobenius norm of ∂L/∂h_t (batch, hidden), t in the sequence's own order.
      Norms: float[] }

/// Gradient flow over time from either side of a gradient check.
[<RequireQualifiedAccess>]
module GradientFlow =

    /// The norms of ∂L/∂h_t, from `SequenceGradients.Hidden` (tensors (batch, time, hidden) named `h_l{k}` or
    /// `h_l{k}_reverse`).
    let ofHidden (hidden: NamedTensors) : GradientFlow[] =
        if isNull (box hidden) then nullArg "hidden"
        hidden.Entries |> Array.map (fun (name, g) ->
            let direction = if name.EndsWith("_reverse", StringComparison.Ordinal) then 1 else 0
            let core = if direction = 1 then name.Substring(0, name.Length - "_reverse".Length) else name
            let layer =
                match (if core.StartsWith("h_l", StringComparison.Ordinal) then Int32.TryParse(core.Substring 3) else (false, 0)) with
                | true, l -> l
                | _ -> invalidArg "hidden" (sprintf "'%s' is not a hidden-gradient name (h_l<layer> or h_l<layer>_reverse)" name)
            if g.Rank <> 3 then invalidArg "hidden" (sprintf "'%s' must be (batch, time, hidden), got shape %A" name g.Shape)
            let batch, time, size = g.Shape.[0], g.Shape.[1], g.Shape.[2]
            let v = g.ToArray()
            { Name = name
              Layer = layer
              Direction = direction
              Norms =
                Array.init time (fun t ->
                    let mutable s = 0.0
                    for b in 0 .. batch - 1 do
                        for j in 0 .. size - 1 do
                            let x = v.[(b * time + t) * size + j]
                            s <- s + x * x
                    sqrt s) })

    /// Gradient flow by reverse-mode AD (probes; see `AdGradients.run`).
    let ad (spec: ModelSpec) (ps: NamedTensors) (options: RunOptions) (batch: Minibatch) : GradientFlow[] =
        ofHidden (AdGradients.run spec ps options batch).Hidden

    /// Gradient flow by the hand-derived BPTT (see `Bptt.run`).
    let bptt (spec: ModelSpec) (ps: NamedTensors) (options: RunOptions) (batch: Minibatch) : GradientFlow[] =
        ofHidden (Bptt.run spec ps options batch).Hidden

    /// The norms as an aligned text table: one line per time step, one column per layer and direction.
    let format (flows: GradientFlow[]) : string =
        if isNull flows then nullArg "flows"
        let time = flows |> Array.fold (fun m f -> max m f.Norms.Length) 0
        let cells =
            Array.append
                [| Array.append [| "t" |] (flows |> Array.map (fun f -> f.Name)) |]
                (Array.init time (fun t ->
                    Array.append [| string t |] (flows |> Array.map (fun f -> if t < f.Norms.Length then f.Norms.[t].ToString("0.000000e+00", CultureInfo.InvariantCulture) else ""))))
        let widths = Array.init cells.[0].Length (fun c -> cells |> Array.map (fun l -> l.[c].Length) |> Array.max)
        let text = StringBuilder()
        for l in cells do
            text.AppendLine(String.Join("  ", Array.mapi (fun c (s: string) -> s.PadLeft widths.[c]) l)) |> ignore
        text.ToString()

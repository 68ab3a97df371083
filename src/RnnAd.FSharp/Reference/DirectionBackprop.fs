namespace RnnAd.FSharp.Reference

open MathNet.Numerics.LinearAlgebra
open RnnAd.FSharp

/// A cell step's forward record, whichever the kind.
type internal CellCache =
    | RnnStep of RnnBackprop.Cache
    | LstmStep of LstmBackprop.Cache
    | GruStep of GruBackprop.Cache

/// One step of one direction, as the forward pass saw it.
type internal StepTrace =
    { /// Position in the sequence (for the backward direction, reading step τ is time T − 1 − τ).
      Time: int
      Input: Matrix<float>
      /// The state entering the step.
      Previous: DenseState
      Cache: CellCache
      /// Rows that are real steps (the rest are padding and carry the state); None without a mask.
      Keep: bool[] option
      /// Whether truncated BPTT treats the entering state as a constant.
      Detached: bool
      /// The state leaving the step: the cell's output on real rows, `Previous` on padded ones.
      State: DenseState }

/// The gradients one direction of one layer gives back.
type internal DirectionGradients =
    { DWih: Matrix<float>
      DWhh: Matrix<float>
      /// ∂L/∂b_ih and ∂L/∂b_hh, for a cell with biases.
      DBih: Vector<float> option
      DBhh: Vector<float> option
      /// ∂L/∂x_t for every time t (sequence order), (batch, input).
      DInputs: Matrix<float>[]
      /// ∂L/∂h_t for every time t (sequence order), (batch, H): the gradient flow over time.
      DHidden: Matrix<float>[] }

/// One direction of one recurrent layer over a whole sequence: the forward fold over time and the backward
/// sweep that inverts it (backpropagation through time), with padding masks and truncation.
[<RequireQualifiedAccess>]
module internal DirectionBackprop =

    /// Runs the cell over `inputs` (one (batch, input) matrix per time step, sequence order), reading them
    /// backwards when `reversed`. `keep.[t].[b]` says whether step t of sequence b is real. With
    /// `detachEvery = Some k` the state entering reading steps k, 2k, … is marked as a constant, exactly as
    /// `Sequence.run` detaches it on the AD side.
    let forward (kind: CellKind) (p: DenseCell) (init: DenseState) (keep: bool[][] option) (detachEvery: int option)
                (reversed: bool) (inputs: Matrix<float>[]) : StepTrace[] =
        let time = inputs.Length
        let steps = Array.zeroCreate time
        let mutable state = init
        for tau in 0 .. time - 1 do
            let t = if reversed then time - 1 - tau else tau
            let x = inputs.[t]
            let cache, next =
                match kind with
                | CellKind.RnnTanh | CellKind.RnnRelu ->
                    let c = RnnBackprop.forward (kind = CellKind.RnnRelu) p state.H x
                    RnnStep c, { DenseState.H = c.HNext; C = state.C }
                | CellKind.Lstm ->
                    let c = LstmBackprop.forward p state.H state.C x
                    LstmStep c, { DenseState.H = c.HNext; C = c.CNext }
                | CellKind.Gru ->
                    let c = GruBackprop.forward p state.H x
                    GruStep c, { DenseState.H = c.HNext; C = state.C }
            let rows = keep |> Option.map (fun k -> k.[t])
            // Padding: s_τ = keep ? cell(s_{τ−1}, x_t) : s_{τ−1}, row by row.
            let carried =
                match rows with
                | Some k -> { DenseState.H = Dense.selectRows k next.H state.H; C = Dense.selectRows k next.C state.C }
                | None -> next
            let detached = match detachEvery with Some k -> tau > 0 && tau % k = 0 | None -> false
            steps.[tau] <- { Time = t; Input = x; Previous = state; Cache = cache; Keep = rows; Detached = detached; State = carried }
            state <- carried
        steps

    /// The backward sweep. `dOutputs.[t]` is ∂L/∂h_t through the layer's output at time t (from the head or
    /// the next layer); `dFinal`, if any, is ∂L/∂h of the final state (the many-to-one head reads it).
    let backward (kind: CellKind) (p: DenseCell) (steps: StepTrace[]) (dOutputs: Matrix<float>[]) (dFinal: Matrix<float> option) : DirectionGradients =
        let time = steps.Length
        let batch, hidden = steps.[0].State.H.RowCount, steps.[0].State.H.ColumnCount
        let dWih = Dense.zeros p.Wih.RowCount p.Wih.ColumnCount
        let dWhh = Dense.zeros p.Whh.RowCount p.Whh.ColumnCount
        let dBih = p.Bih |> Option.map (fun b -> Dense.zeroVector b.Count)
        let dBhh = p.Bhh |> Option.map (fun b -> Dense.zeroVector b.Count)
        let dInputs = Array.zeroCreate time
        let dHidden = Array.zeroCreate time
        // What step τ + 1 sends back to the state s_τ: ∂L/∂h_τ and ∂L/∂c_τ through the recurrence.
        let mutable dHCarry = Dense.zeros batch hidden
        let mutable dCCarry = Dense.zeros batch hidden
        for tau in time - 1 .. -1 .. 0 do
            let step = steps.[tau]
            // h_τ is the layer's output at time t, the next step's input state and, last, the final state:
            // ∂L/∂h_τ = ∂L/∂y_t + (from step τ + 1) [+ ∂L/∂h_final].
            let dH =
                let d = dOutputs.[step.Time] + dHCarry
                match dFinal with
                | Some f when tau = time - 1 -> d + f
                | _ -> d
            let dC = dCCarry
            dHidden.[step.Time] <- dH
            // s_τ = keep ? cell(s_{τ−1}, x) : s_{τ−1}  ⇒  real rows send the gradient into the cell, padded
            // rows straight to s_{τ−1}.
            let zero = Dense.zeros batch hidden
            let dHCell, dHPass, dCCell, dCPass =
                match step.Keep with
                | Some k -> Dense.selectRows k dH zero, Dense.selectRows k zero dH, Dense.selectRows k dC zero, Dense.selectRows k zero dC
                | None -> dH, zero, dC, zero
            let g =
                match step.Cache with
                | RnnStep c -> RnnBackprop.backward (kind = CellKind.RnnRelu) c dHCell
                | LstmStep c -> LstmBackprop.backward c dHCell dCCell
                | GruStep c -> GruBackprop.backward c dHCell
            // a_ih = x·W_ihᵀ + b_ih  ⇒  ∂L/∂W_ih += (∂L/∂a_ih)ᵀ·x,  ∂L/∂b_ih += Σ_batch ∂L/∂a_ih,  ∂L/∂x = ∂L/∂a_ih·W_ih
            dWih.Add(g.DPreIh.TransposeThisAndMultiply step.Input, dWih)
            dBih |> Option.iter (fun d -> d.Add(g.DPreIh.ColumnSums(), d))
            dInputs.[step.Time] <- g.DPreIh * p.Wih
            // a_hh = h·W_hhᵀ + b_hh  ⇒  ∂L/∂W_hh += (∂L/∂a_hh)ᵀ·h,  ∂L/∂b_hh += Σ_batch ∂L/∂a_hh,  ∂L/∂h ∋ ∂L/∂a_hh·W_hh
            dWhh.Add(g.DPreHh.TransposeThisAndMultiply step.Previous.H, dWhh)
            dBhh |> Option.iter (fun d -> d.Add(g.DPreHh.ColumnSums(), d))
            let dHPrevious = dHPass + g.DPreHh * p.Whh + g.DHDirect
            let dCPrevious = dCPass + g.DC
            // Truncated BPTT: a detached entering state is a constant, so nothing flows further back.
            if step.Detached then
                dHCarry <- Dense.zeros batch hidden
                dCCarry <- Dense.zeros batch hidden
            else
                dHCarry <- dHPrevious
                dCCarry <- dCPrevious
        { DWih = dWih; DWhh = dWhh; DBih = dBih; DBhh = dBhh; DInputs = dInputs; DHidden = dHidden }

namespace RnnAd.FSharp

open System

/// Learning-rate schedules, as functions of the number of updates already taken.
[<RequireQualifiedAccess>]
type Schedule =
    /// The same rate throughout.
    | Constant of lr: float
    /// lr · gamma^⌊step / every⌋ (PyTorch's StepLR, counted in updates).
    | Step of lr: float * every: int * gamma: float
    /// Cosine annealing from lr to minLr over `total` updates, then minLr (PyTorch's CosineAnnealingLR
    /// without restarts).
    | Cosine of lr: float * total: int * minLr: float

/// Evaluation and checking of schedules.
[<RequireQualifiedAccess>]
module Schedules =

    /// Checks a schedule's parameters, naming the one at fault.
    let validate (schedule: Schedule) : unit =
        let positiveRate name (v: float) =
            if not (v >= 0.0) || Double.IsInfinity v then invalidArg name (sprintf "%s must be finite and non-negative, got %g" name v)
        match schedule with
        | Schedule.Constant lr -> positiveRate "lr" lr
        | Schedule.Step (lr, every, gamma) ->
            positiveRate "lr" lr
            if every <= 0 then invalidArg "every" (sprintf "the step interval must be positive, got %d" every)
            positiveRate "gamma" gamma
        | Schedule.Cosine (lr, total, minLr) ->
            positiveRate "lr" lr
            positiveRate "minLr" minLr
            if total <= 0 then invalidArg "total" (sprintf "the number of updates must be positive, got %d" total)

    /// The learning rate for the update that follows `step` earlier ones.
    let rate (schedule: Schedule) (step: int64) : float =
        match schedule with
        | Schedule.Constant lr -> lr
        | Schedule.Step (lr, every, gamma) -> lr * Math.Pow(gamma, float (step / int64 every))
        | Schedule.Cosine (lr, total, minLr) ->
            if step >= int64 total then minLr
            else minLr + (lr - minLr) * (1.0 + cos (Math.PI * float step / float total)) / 2.0

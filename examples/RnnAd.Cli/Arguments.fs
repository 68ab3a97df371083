namespace RnnAd.Cli

open Argu

/// `rnnad train`: a character language model on a text file or the embedded passage.
type TrainArgs =
    | [<Unique>] Text of file: string
    | [<Unique>] Cell of kind: string
    | [<Unique>] Hidden of size: int
    | [<Unique>] Layers of count: int
    | [<Unique>] Embedding of size: int
    | [<Unique>] Window of length: int
    | [<Unique>] Stride of step: int
    | [<Unique>] Epochs of count: int
    | [<Unique>] Batch_Size of count: int
    | [<Unique; AltCommandLine("--lr")>] Learning_Rate of rate: float
    | [<Unique>] Optimizer of name: string
    | [<Unique>] Bptt of steps: int
    | [<Unique>] Clip_Norm of norm: float
    | [<Unique>] Dropout of probability: float
    | [<Unique>] Seed of seed: int
    | [<Unique; AltCommandLine("-o")>] Output of file: string
    | [<Unique>] Checkpoint_Every of batches: int
    | Resume
    | [<Unique>] Sample_Length of characters: int
    | [<Unique>] Validation_Split of fraction: float
    | [<Unique>] Early_Stopping of patience: int
    | [<Unique>] Max_Steps of steps: int
    | [<Unique>] History of file: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Text _ -> "UTF-8 text file to learn (default: the opening of Alice's Adventures in Wonderland, embedded)."
            | Cell _ -> "recurrent cell: rnn, rnn-relu, lstm or gru (default lstm)."
            | Hidden _ -> "hidden units per layer (default 128)."
            | Layers _ -> "stacked recurrent layers (default 1)."
            | Embedding _ -> "embedding size; 0 feeds one-hot characters instead (default 16)."
            | Window _ -> "characters per training sequence (default 32)."
            | Stride _ -> "characters between the starts of two sequences (default: half the window)."
            | Epochs _ -> "passes over the text; with --resume, the total to reach (default 40)."
            | Batch_Size _ -> "sequences per batch (default 32)."
            | Learning_Rate _ -> "learning rate (default 0.01)."
            | Optimizer _ -> "sgd, adam, adamw or rmsprop, with PyTorch's defaults (default adam)."
            | Bptt _ -> "truncated backpropagation through time: one update every this many steps (default: full sequences)."
            | Clip_Norm _ -> "clip the gradients' global norm to this; 0 turns clipping off (default 1)."
            | Dropout _ -> "dropout between stacked layers, in [0, 1) (default 0)."
            | Seed _ -> "seed of the initialisation, the shuffling, dropout and the final sample (default 1)."
            | Output _ -> "checkpoint to write, its folder created if missing; the loss curve goes next to it as <name>.loss.png (default rnnad-model.safetensors)."
            | Checkpoint_Every _ -> "also save the checkpoint every this many batches (default: only at the end)."
            | Resume -> "continue the training checkpoint at --output; give the same text and training options as before."
            | Sample_Length _ -> "characters to generate after training, at most 10,000,000; 0 for none (default 200)."
            | Validation_Split _ -> "hold out this fraction of the text, from its end, and report the loss and bits per character on it after every epoch; the best epoch goes to <name>.best.safetensors (default: none)."
            | Early_Stopping _ -> "stop after this many epochs without a lower validation loss; needs --validation-split (default: train every epoch)."
            | Max_Steps _ -> "stop after this many batches in all, within an epoch if need be; a resumed run counts those before it (default: no limit)."
            | History _ -> "write every epoch's figures (loss, perplexity, bits per character, accuracy, per-class figures), training and validation, as CSV, or JSON for a .json name."

/// `rnnad sample`: text from a trained character model.
type SampleArgs =
    | [<Unique; AltCommandLine("-m")>] Model of file: string
    | [<Unique>] Prompt of text: string
    | [<Unique>] Length of characters: int
    | [<Unique>] Temperature of temperature: float
    | [<Unique>] Top_K of count: int
    | [<Unique>] Seed of seed: int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "checkpoint written by rnnad train (default rnnad-model.safetensors)."
            | Prompt _ -> "text to continue (default: the most frequent character of the training text)."
            | Length _ -> "characters to generate, at most 10,000,000 (default 200)."
            | Temperature _ -> "softmax temperature; 0 always picks the most likely character (default 0.8)."
            | Top_K _ -> "draw only among the k most likely characters (default: all)."
            | Seed _ -> "seed of the draws: the same seed gives the same text (default 0)."

/// `rnnad evaluate`: a character model's loss, perplexity, bits per character and accuracy on a text.
type EvaluateArgs =
    | [<Unique; AltCommandLine("-m")>] Model of file: string
    | [<Unique>] Text of file: string
    | [<Unique>] Window of length: int
    | [<Unique>] Batch_Size of count: int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "checkpoint written by rnnad train (default rnnad-model.safetensors)."
            | Text _ -> "UTF-8 text file to score (default: the embedded text of rnnad train)."
            | Window _ -> "characters per sequence, each read from a fresh state (default: the --window the model was trained with, else 32)."
            | Batch_Size _ -> "sequences per batch; changes the speed, not the figures (default 32)."

/// `rnnad export`: a checkpoint as an ONNX file.
type ExportArgs =
    | [<Unique; AltCommandLine("-m")>] Model of file: string
    | [<Mandatory; Unique>] Onnx of file: string
    | Float64
    | Softmax
    | Lengths

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "checkpoint to export (default rnnad-model.safetensors)."
            | Onnx _ -> "ONNX file to write (opset 17); never the checkpoint itself."
            | Float64 -> "write float64 weights and values (default float32)."
            | Softmax -> "output probabilities: the softmax of the class scores (the logistic function of each for a multi-label model)."
            | Lengths -> "add the input lengths (int64 per sequence) for batches padded at the end."

/// `rnnad gradcheck`: reverse-mode AD against the hand-derived BPTT (and finite differences).
type GradCheckArgs =
    | [<Unique>] Cell of kind: string
    | [<Unique>] Hidden of size: int
    | [<Unique>] Layers of count: int
    | Bidirectional
    | [<Unique>] Time of steps: int
    | [<Unique>] Batch of sequences: int
    | [<Unique>] Input of features: int
    | [<Unique>] Outputs of classes: int
    | [<Unique>] Head of kind: string
    | [<Unique>] Bptt of steps: int
    | [<Unique>] Seed of seed: int
    | Finite_Differences
    | Strict

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Cell _ -> "recurrent cell: rnn, rnn-relu, lstm or gru (default lstm)."
            | Hidden _ -> "hidden units per layer (default 4)."
            | Layers _ -> "stacked recurrent layers (default 1)."
            | Bidirectional -> "run every layer in both directions."
            | Time _ -> "steps per sequence (default 5)."
            | Batch _ -> "sequences in the batch (default 2)."
            | Input _ -> "input features per step (default 3)."
            | Outputs _ -> "classes the linear head scores (default 3)."
            | Head _ -> "per-step (a target at every step) or last-step (one per sequence) (default per-step)."
            | Bptt _ -> "truncate backpropagation every this many steps (default: full BPTT)."
            | Seed _ -> "seed of the parameters, inputs and targets (default 1)."
            | Finite_Differences -> "also compare both with centred finite differences (full BPTT only)."
            | Strict -> "judge AD vs BPTT purely relatively, 1e-10 per entry (default: entries below 1e-5 to 1e-15 absolute, the rounding-noise floor)."

/// `rnnad seed`: one of the seed lectures re-lived.
type SeedArgs =
    | [<MainCommand; ExactlyOnce>] Number of number: string
    | Quick
    | [<Unique; AltCommandLine("-o")>] Output of directory: string
    | [<Unique>] Data of path: string
    | [<Unique>] Seed of seed: int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Number _ -> "which seed: 000, 001, 002, 003 or 004."
            | Quick -> "a few epochs only, as CI runs it (the numbers are then not the lesson's)."
            | Output _ -> "folder for the pictures (default rnnad-seed-<number>)."
            | Data _ -> "data set to use instead of the generated one (seed 003: an IMDB folder with train/ and test/)."
            | Seed _ -> "seed of every random choice (default: the example's own)."

/// `rnnad info`: takes no options.
type InfoArgs =
    | [<Hidden>] Unused

    interface IArgParserTemplate with
        member _.Usage = "not used."

/// The commands of `rnnad`.
type RnnadArgs =
    | [<CliPrefix(CliPrefix.None)>] Train of ParseResults<TrainArgs>
    | [<CliPrefix(CliPrefix.None)>] Sample of ParseResults<SampleArgs>
    | [<CliPrefix(CliPrefix.None)>] Evaluate of ParseResults<EvaluateArgs>
    | [<CliPrefix(CliPrefix.None); CustomCommandLine("gradcheck")>] GradCheck of ParseResults<GradCheckArgs>
    | [<CliPrefix(CliPrefix.None)>] Export of ParseResults<ExportArgs>
    | [<CliPrefix(CliPrefix.None)>] Seed of ParseResults<SeedArgs>
    | [<CliPrefix(CliPrefix.None)>] Info of ParseResults<InfoArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Train _ -> "train a character language model and write a checkpoint, a loss curve and a sample."
            | Sample _ -> "generate text from a checkpoint."
            | Evaluate _ -> "score a checkpoint on a text: loss, perplexity, bits per character, accuracy."
            | GradCheck _ -> "check AD gradients against hand-derived BPTT (and finite differences)."
            | Export _ -> "write a checkpoint as an ONNX file for ONNX Runtime and other engines."
            | Seed _ -> "run a seed example (000 to 004) and write its pictures."
            | Info _ -> "show the version, the matrix-multiply provider and the machine."

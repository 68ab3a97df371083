namespace RnnAd.FSharp.Data

/// One language-model example: token ids and, at each step, the id of the token that follows (equal lengths).
type LanguageModelExample = { Input: int[]; Next: int[] }

/// One classification example: the token ids of a sequence (any positive length) and its class.
type ClassificationExample = { Tokens: int[]; Label: int }

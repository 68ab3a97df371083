namespace RnnAd.Examples.Datasets

open System
open System.IO
open System.Text
open RnnAd.FSharp.Data

/// The IMDB folder layout (Maas et al. 2011, `aclImdb`): `<root>/train/pos`, `train/neg`, `test/pos` and
/// `test/neg`, each holding one review per `.txt` file (UTF-8); other files and folders (`unsup`, `*.feat`,
/// `urls_*.txt` beside the class folders) are ignored.
[<RequireQualifiedAccess>]
module Imdb =

    /// Class folders in the order their reviews are returned.
    let private classes = [| "neg", Sentiment.Negative; "pos", Sentiment.Positive |]

    let private requireSplit (split: string) =
        if split <> "train" && split <> "test" then invalidArg "split" (sprintf "the split must be \"train\" or \"test\", got \"%s\"" split)

    /// The `.txt` files of a folder by ordinal file name.
    let private reviewFiles (folder: string) : string[] =
        Directory.GetFiles folder
        |> Array.filter (fun f -> String.Equals(Path.GetExtension f, ".txt", StringComparison.Ordinal))
        |> Array.sortWith (fun a b -> String.CompareOrdinal(Path.GetFileName a, Path.GetFileName b))

    /// The reviews of one split ("train" or "test"): negatives then positives, each class in ordinal order of
    /// file name, at most `maxPerClass` of each (the first by that order). Raises DirectoryNotFoundException
    /// naming the expected folder relative to the root when it is missing, and InvalidDataException naming the
    /// folder or file when a class folder holds no review or a review is not UTF-8 text.
    let loadSplit (root: string) (split: string) (maxPerClass: int option) : Review[] =
        if String.IsNullOrEmpty root then invalidArg "root" "the IMDB root folder is null or empty"
        requireSplit split
        match maxPerClass with
        | Some m when m <= 0 -> invalidArg "maxPerClass" (sprintf "the number of reviews per class must be positive, got %d" m)
        | _ -> ()
        if not (Directory.Exists root) then raise (DirectoryNotFoundException(sprintf "the IMDB root folder '%s' does not exist" root))
        [| for folderName, sentiment in classes do
               let relative = split + "/" + folderName
               let folder = Path.Combine(root, split, folderName)
               if not (Directory.Exists folder) then
                   raise (DirectoryNotFoundException(
                       sprintf "the IMDB folder '%s' is missing under '%s' (expected train/pos, train/neg, test/pos and test/neg holding .txt reviews)" relative root))
               let files = reviewFiles folder
               if files.Length = 0 then raise (InvalidDataException(sprintf "the IMDB folder '%s' under '%s' holds no .txt review" relative root))
               let files = match maxPerClass with Some m when m < files.Length -> Array.take m files | _ -> files
               for file in files do
                   let name = Path.GetFileName file
                   let described = relative + "/" + name
                   let text = TextFile.readNamed described file
                   if String.IsNullOrWhiteSpace text then
                       raise (InvalidDataException(sprintf "the review '%s' under '%s' holds no text" described root))
                   { Name = name; Text = text; Sentiment = sentiment } |]

    /// Both splits of an IMDB folder (see `loadSplit`).
    let load (root: string) (maxPerClass: int option) : ReviewSet =
        { Train = loadSplit root "train" maxPerClass; Test = loadSplit root "test" maxPerClass }

    /// Writes reviews in the IMDB layout under `root` (UTF-8 without byte-order mark, each file written to a
    /// temporary name and renamed, so no half-written review is ever read as a review). Raises naming the
    /// review when a name is not a plain `.txt` file name or repeats within its folder, or its text is empty,
    /// when a split lacks a class, and IOException when a target folder already holds reviews.
    let write (root: string) (reviews: ReviewSet) : unit =
        if String.IsNullOrEmpty root then invalidArg "root" "the IMDB root folder is null or empty"
        if isNull reviews.Train || isNull reviews.Test then invalidArg "reviews" "a split of the review set is null"
        let plan =
            [| for split, items in [| "train", reviews.Train; "test", reviews.Test |] do
                   for r in items do
                       if r.Sentiment <> Sentiment.Negative && r.Sentiment <> Sentiment.Positive then
                           invalidArg "reviews" (sprintf "review '%s' in split '%s' has sentiment %d, expected 0 or 1" r.Name split (int r.Sentiment))
                   for folderName, sentiment in classes do
                       let relative = split + "/" + folderName
                       let mine = items |> Array.filter (fun r -> r.Sentiment = sentiment)
                       if mine.Length = 0 then invalidArg "reviews" (sprintf "no review for the folder '%s': the loader needs at least one in each" relative)
                       let seen = Collections.Generic.HashSet<string>(StringComparer.Ordinal)
                       for r in mine do
                           if isNull r.Name || not (r.Name.EndsWith(".txt", StringComparison.Ordinal)) || r.Name.Length <= 4
                              || r.Name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || r.Name.Contains '\\' then
                               invalidArg "reviews" (sprintf "review name '%s' in '%s' is not a plain file name ending in .txt" r.Name relative)
                           if not (seen.Add r.Name) then invalidArg "reviews" (sprintf "review name '%s' appears twice in '%s'" r.Name relative)
                           if String.IsNullOrWhiteSpace r.Text then invalidArg "reviews" (sprintf "review '%s/%s' has no text" relative r.Name)
                       relative, Path.Combine(root, split, folderName), mine |]
        for relative, folder, _ in plan do
            if Directory.Exists folder && (reviewFiles folder).Length > 0 then
                raise (IOException(sprintf "the IMDB folder '%s' under '%s' already holds reviews; write into an empty folder" relative root))
        let utf8 = UTF8Encoding(false)
        for _, folder, mine in plan do
            Directory.CreateDirectory folder |> ignore
            for r in mine do
                let target = Path.Combine(folder, r.Name)
                let temporary = target + ".tmp"
                File.WriteAllText(temporary, r.Text, utf8)
                File.Move(temporary, target, false)

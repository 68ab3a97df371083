namespace RnnAd.Cli

open RnnAd
open System
open System.Reflection
open System.Runtime.InteropServices
open System.Threading
open Argu
open RnnAd.FSharp
open RnnAd.FSharp.Storage

/// `rnnad info`: what this build is and where it runs.
[<RequireQualifiedAccess>]
module InfoCommand =

    /// The version the assembly was built as: VersionPrefix in src/Directory.Build.props (the packages' version).
    /// The SDK's Source Link appends "+<commit>" when built from git; that is shown apart, shortened.
    let private version (assembly: Assembly) =
        match assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>() with
        | null -> string (assembly.GetName().Version)
        | a ->
            match a.InformationalVersion.Split('+', 2) with
            | [| number; commit |] when commit <> "" -> sprintf "%s (commit %s)" number (commit.Substring(0, min 12 commit.Length))
            | _ -> a.InformationalVersion

    /// Prints the versions, the matrix-multiply provider and the machine; returns 0.
    let run (t: Terminal) (_: CancellationToken) (_: ParseResults<InfoArgs>) : int =
        Terminal.heading t (sprintf "rnnad %s" (version (Assembly.GetExecutingAssembly())))
        let field (name: string) (value: string) = Terminal.line t (sprintf "  %-8s %s" name value)
        field "library" (sprintf "RnnAd.FSharp %s" (version typeof<Tensor>.Assembly))
        field "matmul" (Gemm.describe ())
        field "machine" (sprintf "%d cores, %s (%O)" Environment.ProcessorCount RuntimeInformation.OSDescription RuntimeInformation.OSArchitecture)
        field ".NET" RuntimeInformation.FrameworkDescription
        0

using System.Reflection;

namespace RnnAd.CSharp.Tests;

/// <summary>Runs an example program in-process, as its Main would run from the command line, and returns what it printed.</summary>
internal static class ExampleRunner
{
    /// <summary>Runs <paramref name="assembly"/>'s entry point with <paramref name="args"/>; callers sit in the "Console" collection, since Console.Out is process-wide.</summary>
    public static string Run(string assembly, params string[] args)
    {
        var entry = Assembly.Load(assembly).EntryPoint!;
        var output = new StringWriter();
        var previous = Console.Out;
        Console.SetOut(output);
        try
        {
            entry.Invoke(null, new object[] { args });
        }
        finally
        {
            Console.SetOut(previous);
        }
        return output.ToString();
    }
}

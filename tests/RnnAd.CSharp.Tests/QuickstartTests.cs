using System.Reflection;

namespace RnnAd.CSharp.Tests;

[Collection("Console")]
public class QuickstartTests
{
    [Fact]
    public void The_quickstart_trains_saves_reloads_and_samples_in_quick_mode()
    {
        var entry = Assembly.Load("CSharpQuickstart").EntryPoint!;
        var output = new StringWriter();
        var previous = Console.Out;
        Console.SetOut(output);
        try
        {
            entry.Invoke(null, new object[] { new[] { "--quick" } });
        }
        finally
        {
            Console.SetOut(previous);
        }
        var text = output.ToString();
        // Progress<T> reports on the thread pool, so epoch lines may land after Main returns: only the
        // lines Main writes itself are checked.
        Assert.Contains("saved and reloaded", text);
        Assert.Contains("greedy:      if you want", text);
    }
}

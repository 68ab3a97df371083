namespace RnnAd.CSharp.Tests;

[Collection("Console")]
public class QuickstartTests
{
    [Fact]
    public void The_quickstart_trains_saves_reloads_and_samples_in_quick_mode()
    {
        var text = ExampleRunner.Run("CSharpQuickstart", "--quick");
        // Progress<T> reports on the thread pool, so epoch lines may land after Main returns: only the
        // lines Main writes itself are checked.
        Assert.Contains("saved and reloaded", text);
        Assert.Contains("greedy:      if you want", text);
    }
}

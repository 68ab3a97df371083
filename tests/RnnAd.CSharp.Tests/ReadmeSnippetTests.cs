namespace RnnAd.CSharp.Tests;

/// <summary>
/// The README's C# examples are code of this suite: every block between "// README begin" and "// README end" in
/// the files below appears in README.md verbatim (de-indented), so the README shows code that compiles and is tested.
/// </summary>
public sealed class ReadmeSnippetTests
{
    private static string Root()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "RnnAd.sln")))
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("no RnnAd.sln above the test assembly");
        return root;
    }

    /// <summary>The marked blocks of a source file, each de-indented by its begin marker's indentation.</summary>
    private static List<string> Snippets(string path)
    {
        var lines = File.ReadAllLines(path);
        var snippets = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim() != "// README begin") continue;
            var indent = lines[i].Length - lines[i].TrimStart().Length;
            var end = Array.FindIndex(lines, i, l => l.Trim() == "// README end");
            Assert.True(end > i + 1, $"{path}: a README block at line {i + 1} has no end");
            snippets.Add(string.Join("\n", lines[(i + 1)..end].Select(l => l.Length >= indent ? l[indent..] : l.TrimStart())));
            i = end;
        }
        return snippets;
    }

    [Theory]
    [InlineData("MinimalGatedUnit.cs", 1)]
    [InlineData("CustomLossTests.cs", 1)]
    public void README_shows_the_marked_code_verbatim(string file, int blocks)
    {
        var root = Root();
        var snippets = Snippets(Path.Combine(root, "tests", "RnnAd.CSharp.Tests", file));
        Assert.Equal(blocks, snippets.Count);
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).Replace("\r\n", "\n");
        foreach (var snippet in snippets) Assert.Contains(snippet, readme);
    }
}

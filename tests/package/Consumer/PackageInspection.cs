using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using System.Xml.Linq;

/// <summary>What the packages in a folder must be: one line per package, an exception at the first fault.</summary>
static class PackageInspection
{
    // The packages and what each holds; anything else in the folder (a test project packed by mistake) fails.
    static readonly (string Id, string Kind, string Assembly)[] Expected =
    {
        ("RnnAd.FSharp", "library", "RnnAd.FSharp"),
        ("RnnAd.CSharp", "library", "RnnAd.CSharp"),
        ("rnnad", "tool", "rnnad"),
    };

    // Custom debug information kinds of portable PDBs (System.Reflection.Metadata's PortablePdb spec).
    static readonly Guid EmbeddedSource = new("0E8A571B-6926-466E-B4AD-8AB04611F5FE");
    static readonly Guid SourceLink = new("CC110556-A091-4D38-9FEC-25AB9A351A6A");

    public static void Run(string feed, string version, string? commit)
    {
        // NuGet ids ignore case: RnnAd and rnnad would be one package on any feed.
        var ids = Expected.Select(e => e.Id).ToArray();
        That(ids.Distinct(StringComparer.OrdinalIgnoreCase).Count() == ids.Length, $"the package ids differ in more than case: {string.Join(", ", ids)}");
        var found = Directory.GetFiles(feed, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        var wanted = Expected.Select(e => $"{e.Id}.{version}.nupkg").Order(StringComparer.Ordinal).ToArray();
        That(found.SequenceEqual(wanted), $"the folder holds exactly {string.Join(", ", wanted)}; it holds {string.Join(", ", found)}");
        foreach (var (id, kind, assembly) in Expected)
            Inspect(feed, id, kind, assembly, version, commit);
    }

    static void Inspect(string feed, string id, string kind, string assembly, string version, string? commit)
    {
        var nupkg = Path.Combine(feed, $"{id}.{version}.nupkg");
        using var zip = ZipFile.OpenRead(nupkg);
        var nuspecEntry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/'));
        XDocument nuspec;
        using (var s = nuspecEntry.Open()) nuspec = XDocument.Load(s);
        var m = nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string? Field(string name) => m.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
        XElement? Element(string name) => m.Elements().SingleOrDefault(e => e.Name.LocalName == name);

        That(Field("id") == id, $"{id}: id is {Field("id")}");
        That(Field("version") == version, $"{id}: version {Field("version")}, expected {version}");
        That(Field("authors") == "RnnAd contributors", $"{id}: authors '{Field("authors")}'");
        That(Field("copyright") == "Copyright (c) 2026 RnnAd contributors", $"{id}: copyright '{Field("copyright")}'");
        var license = Element("license");
        That(license?.Attribute("type")?.Value == "expression" && license.Value == "MIT", $"{id}: license expression MIT");
        That(!string.IsNullOrWhiteSpace(Field("description")) && Field("description")!.Length >= 40, $"{id}: a description");
        That((Field("tags") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).Length >= 3, $"{id}: tags '{Field("tags")}'");

        var readmeName = Field("readme");
        That(readmeName is not null, $"{id}: the nuspec names a readme");
        var readmeEntry = zip.GetEntry(readmeName!);
        That(readmeEntry is not null, $"{id}: {readmeName} is in the package");
        string readme;
        using (var r = new StreamReader(readmeEntry!.Open())) readme = r.ReadToEnd();
        That(readme.StartsWith("# ", StringComparison.Ordinal) && readme.Length > 400, $"{id}: {readmeName} has a title and some substance");
        // nuget.org renders the readme away from the repository: a relative link or image would be broken there.
        var relative = Regex.Matches(readme, @"\]\((?!https://)[^)]*\)").Select(x => x.Value).ToArray();
        That(relative.Length == 0, $"{id}: {readmeName} has no relative links ({string.Join(", ", relative)})");

        var repository = Element("repository");
        if (commit is not null)
            That(repository?.Attribute("commit")?.Value == commit, $"{id}: the nuspec's repository commit is {commit} (got '{repository?.Attribute("commit")?.Value}')");
        var url = repository?.Attribute("url")?.Value;

        string detail;
        if (kind == "library")
        {
            var dependencies = m.Descendants().Where(e => e.Name.LocalName == "dependency")
                .ToDictionary(e => e.Attribute("id")!.Value, e => e.Attribute("version")!.Value);
            if (id == "RnnAd.CSharp")
                That(dependencies.TryGetValue("RnnAd.FSharp", out var core) && core == version,
                    $"RnnAd.CSharp depends on RnnAd.FSharp {version} (got {(dependencies.TryGetValue("RnnAd.FSharp", out var c) ? c : "none")})");
            var lib = $"lib/net10.0/{assembly}";
            That(zip.GetEntry(lib + ".dll") is not null && zip.GetEntry(lib + ".xml") is not null, $"{id}: {lib}.dll and its XML documentation");
            That(!zip.Entries.Any(e => e.FullName.EndsWith(".pdb", StringComparison.Ordinal)), $"{id}: no PDB in the .nupkg (it goes to the .snupkg)");
            var snupkg = Path.ChangeExtension(nupkg, ".snupkg");
            That(File.Exists(snupkg), $"{id}: {Path.GetFileName(snupkg)} exists");
            using var symbols = ZipFile.OpenRead(snupkg);
            That(symbols.GetEntry(lib + ".pdb") is not null, $"{id}: {lib}.pdb is in the .snupkg");
            detail = Symbols(id, Read(zip, lib + ".dll"), Read(symbols, lib + ".pdb"));
            detail = $"depends on {string.Join(", ", dependencies.Select(d => $"{d.Key} {d.Value}"))}; {detail}";
        }
        else
        {
            That(m.Descendants().Any(e => e.Name.LocalName == "packageType" && e.Attribute("name")?.Value == "DotnetTool"), $"{id}: package type DotnetTool");
            var settings = zip.GetEntry("tools/net10.0/any/DotnetToolSettings.xml");
            That(settings is not null, $"{id}: tools/net10.0/any/DotnetToolSettings.xml");
            XDocument toolSettings;
            using (var s = settings!.Open()) toolSettings = XDocument.Load(s);
            var command = toolSettings.Descendants("Command").Single();
            That(command.Attribute("Name")?.Value == "rnnad" && command.Attribute("EntryPoint")?.Value == "rnnad.dll", $"{id}: the command rnnad runs rnnad.dll");
            var tool = $"tools/net10.0/any/{assembly}";
            detail = Symbols(id, Read(zip, tool + ".dll"), Read(zip, tool + ".pdb"));
            detail = $"command rnnad, {new FileInfo(nupkg).Length / 1e6:F1} MB; its own PDB in the package: {detail}";
        }
        Console.WriteLine($"{id} {version}: readme {readmeName}, licence MIT, repository {(url ?? "(no remote)")} at {repository?.Attribute("commit")?.Value?[..12] ?? "(no commit)"}; {detail}");
    }

    static byte[] Read(ZipArchive zip, string name)
    {
        var entry = zip.GetEntry(name) ?? throw new InvalidOperationException($"check failed: {name} is missing");
        using var s = entry.Open();
        using var copy = new MemoryStream();
        s.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Checks that the PDB belongs to the DLL, that the build was deterministic and that every source
    /// file is embedded; returns what the PDB holds, Source Link included.</summary>
    static string Symbols(string id, byte[] dll, byte[] pdb)
    {
        using var pe = new PEReader(new MemoryStream(dll));
        var directory = pe.ReadDebugDirectory();
        That(directory.Any(d => d.Type == DebugDirectoryEntryType.Reproducible), $"{id}: the DLL was built deterministically (a Reproducible debug entry)");
        var codeView = directory.Single(d => d.Type == DebugDirectoryEntryType.CodeView);
        var expected = pe.ReadCodeViewDebugDirectoryData(codeView).Guid;

        using var provider = MetadataReaderProvider.FromPortablePdbStream(new MemoryStream(pdb));
        var reader = provider.GetMetadataReader();
        var pdbGuid = new Guid(reader.DebugMetadataHeader!.Id.Take(16).ToArray());
        That(pdbGuid == expected, $"{id}: the PDB is the DLL's (id {pdbGuid}, the DLL expects {expected})");

        var documents = reader.Documents.Select(h => (Handle: h, Name: reader.GetString(reader.GetDocument(h).Name))).ToArray();
        var sources = documents.Where(d => d.Name.EndsWith(".fs", StringComparison.Ordinal) || d.Name.EndsWith(".cs", StringComparison.Ordinal)).ToArray();
        That(sources.Length > 0, $"{id}: the PDB lists source files");
        var embedded = sources.Count(d => reader.GetCustomDebugInformation(d.Handle)
            .Any(c => reader.GetGuid(reader.GetCustomDebugInformation(c).Kind) == EmbeddedSource));
        That(embedded == sources.Length, $"{id}: every source file is embedded in the PDB ({embedded} of {sources.Length})");

        // Deterministic source paths (ContinuousIntegrationBuild, which CI=true turns on) map the repository to /_/.
        var ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        var mapped = sources.All(d => d.Name.StartsWith("/_/", StringComparison.Ordinal));
        if (ci) That(mapped, $"{id}: with CI=true the PDB's paths start with /_/ (one is {sources.FirstOrDefault(d => !d.Name.StartsWith("/_/", StringComparison.Ordinal)).Name})");

        var link = reader.GetCustomDebugInformation(EntityHandle.ModuleDefinition)
            .Select(reader.GetCustomDebugInformation)
            .Where(c => reader.GetGuid(c.Kind) == SourceLink)
            .Select(c => System.Text.Encoding.UTF8.GetString(reader.GetBlobBytes(c.Value)))
            .SingleOrDefault();
        var linkText = link is null ? "no Source Link map (the repository has no remote)" : $"Source Link map {link}";
        return $"PDB matches, {embedded} sources embedded, paths {(mapped ? "/_/…" : "local")}, {linkText}";
    }

    static void That(bool condition, string what)
    {
        if (!condition) throw new InvalidOperationException("check failed: " + what);
    }
}

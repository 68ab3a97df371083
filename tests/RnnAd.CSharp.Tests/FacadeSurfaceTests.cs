using System.Reflection;

namespace RnnAd.CSharp.Tests;

/// <summary>
/// What C# programs see: the facade's public surface holds no F# type, no name means one thing in the facade and another
/// in the core, every tensor op of the F# core has a name C# can call, and the facade wraps each of them.
/// </summary>
public sealed class FacadeSurfaceTests
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Assembly Facade = typeof(RecurrentModel).Assembly;
    private static readonly Assembly Core = typeof(Tensor).Assembly;
    private static readonly Assembly FSharpCore = typeof(Microsoft.FSharp.Core.Unit).Assembly;

    /// <summary>Every type a public signature of the facade mentions, with where it is mentioned.</summary>
    private static IEnumerable<(string Where, Type Type)> PublicSignatures()
    {
        foreach (var type in Facade.GetExportedTypes())
        {
            if (type.BaseType is { } b) yield return ($"{type} base type", b);
            foreach (var i in type.GetInterfaces()) yield return ($"{type} interface", i);
            foreach (var m in type.GetMembers(Declared | BindingFlags.NonPublic))
            {
                // Protected members are public surface too; private and internal ones are not.
                var visible = m switch
                {
                    MethodBase mb => mb.IsPublic || mb.IsFamily || mb.IsFamilyOrAssembly,
                    FieldInfo f => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly,
                    PropertyInfo p => p.GetAccessors(true).Any(a => a.IsPublic || a.IsFamily || a.IsFamilyOrAssembly),
                    EventInfo e => e.AddMethod is { } add && (add.IsPublic || add.IsFamily),
                    _ => false,
                };
                if (!visible) continue;
                var where = $"{type}.{m.Name}";
                switch (m)
                {
                    case MethodInfo method:
                        yield return (where + " return", method.ReturnType);
                        foreach (var p in method.GetParameters()) yield return ($"{where}({p.Name})", p.ParameterType);
                        break;
                    case ConstructorInfo ctor:
                        foreach (var p in ctor.GetParameters()) yield return ($"{where}({p.Name})", p.ParameterType);
                        break;
                    case PropertyInfo property:
                        yield return (where, property.PropertyType);
                        break;
                    case FieldInfo field:
                        yield return (where, field.FieldType);
                        break;
                    case EventInfo e:
                        yield return (where, e.EventHandlerType!);
                        break;
                }
            }
        }
    }

    /// <summary>The type and every type it is built from (elements, generic arguments).</summary>
    private static IEnumerable<Type> Parts(Type type)
    {
        yield return type;
        if (type.HasElementType)
            foreach (var t in Parts(type.GetElementType()!)) yield return t;
        if (type.IsGenericType)
            foreach (var a in type.GetGenericArguments())
                foreach (var t in Parts(a)) yield return t;
    }

    [Fact]
    public void No_public_type_name_means_two_things_across_the_facade_and_the_core()
    {
        // A C# program that opens RnnAd and RnnAd.FSharp (to write a cell, say) must not meet CS0104.
        var facade = Facade.GetExportedTypes().Where(t => !t.IsNested).Select(t => t.Name).ToHashSet();
        var clashes = Core.GetExportedTypes().Where(t => !t.IsNested && facade.Contains(t.Name)).Select(t => t.FullName).Order().ToList();
        Assert.True(clashes.Count == 0, "names in both the facade and the core: " + string.Join(", ", clashes));
    }

    [Fact]
    public void No_public_signature_of_the_facade_mentions_an_FSharp_type()
    {
        var signatures = PublicSignatures().ToArray();
        // The walk must see the facade's surface, or the check below would pass on nothing.
        Assert.Contains(signatures, s => s.Where.Contains("Differentiation.Grad"));
        Assert.Contains(signatures, s => s.Where.Contains("TensorReductionExtensions.Sum"));
        var leaks = signatures
            .Where(s => Parts(s.Type).Any(t => t.Assembly == FSharpCore || t.Name is "Unit" || t.Name.StartsWith("FSharp", StringComparison.Ordinal)))
            .Select(s => $"{s.Where}: {s.Type}")
            .Distinct()
            .ToArray();
        Assert.True(leaks.Length == 0, "F# types in the facade's public surface:\n" + string.Join("\n", leaks));
    }

    /// <summary>
    /// Extension members of the core compiled under their F# name "Tensor.X" (C# cannot write the dot), and why each
    /// may stay so: F# applies no CompiledName to an extension property's getter, so the facade provides it itself.
    /// </summary>
    private static readonly Dictionary<string, string> DottedByNecessity = new()
    {
        ["Tensor.get_T"] = "T",
    };

    [Fact]
    public void Every_public_static_method_of_the_core_has_a_name_CSharp_can_call()
    {
        var methods = Core.GetExportedTypes().SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly)).ToArray();
        // The tensor ops are there, under plain names (a check that this test reads the right assembly).
        Assert.True(methods.Count(m => m.DeclaringType!.Name.StartsWith("Tensor", StringComparison.Ordinal) && !m.Name.Contains('.')) >= 80);
        var dotted = methods.Where(m => m.Name.Contains('.') && !DottedByNecessity.ContainsKey(m.Name))
            .Select(m => $"{m.DeclaringType}.{m.Name}")
            .ToArray();
        Assert.True(dotted.Length == 0,
            "Give these F# extension members a [<CompiledName(\"…\")>] with their own name (and a facade wrapper):\n" + string.Join("\n", dotted));
        // Each exception is still needed and covered by the facade.
        foreach (var (name, facadeName) in DottedByNecessity)
        {
            Assert.Contains(methods, m => m.Name == name);
            Assert.Contains(FacadeMethodNames(), n => n == "get_" + facadeName);
        }
    }

    /// <summary>The names of the facade's tensor wrappers (C# lowers extension members to static methods of their class).</summary>
    private static HashSet<string> FacadeMethodNames() =>
        Facade.GetExportedTypes()
            .Where(t => t.Name.StartsWith("Tensor", StringComparison.Ordinal) && t.Name.EndsWith("Extensions", StringComparison.Ordinal))
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Select(m => m.Name)
            .ToHashSet();

    /// <summary>Core names the facade spells the C# way.</summary>
    private static readonly Dictionary<string, string> CSharpNames = new() { ["OfArray"] = "FromArray" };

    [Fact]
    public void The_facade_wraps_every_tensor_op_of_the_core()
    {
        // Every public static method of the core's tensor modules (TensorCreation, TensorShaping, …) is an op.
        var ops = Core.GetExportedTypes()
            .Where(t => t.Namespace == "RnnAd.FSharp" && t.Name.StartsWith("Tensor", StringComparison.Ordinal))
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Select(m => DottedByNecessity.TryGetValue(m.Name, out var property) ? "get_" + property : m.Name)
            .Distinct()
            .ToArray();
        Assert.True(ops.Length >= 70, $"only {ops.Length} ops found");
        var wrapped = FacadeMethodNames();
        var missing = ops.Where(op => !wrapped.Contains(CSharpNames.GetValueOrDefault(op, op))).ToArray();
        Assert.True(missing.Length == 0, "Tensor ops of the core without a facade wrapper: " + string.Join(", ", missing));
    }
}

using static RnnAd.CSharp.Tests.TensorAssert;

namespace RnnAd.CSharp.Tests;

/// <summary>
/// Differentiation from C#: gradients, directional derivatives, pullbacks, Hessian-vector products and Jacobians of
/// compositions of many tensor ops, checked against centred finite differences computed here, and user-defined ops.
/// </summary>
public sealed class DifferentiationTests
{
    // Centred differences with step h = 1e-6 carry a truncation error ~h²·|f‴| ≈ 1e-12 and a rounding error
    // ~ε·|f|/h ≈ 2e-16·10/1e-6 = 2e-9 for the values of f here (|f| < 10), so 1e-7 (relative to max(1, |g|)) leaves a
    // margin of 50 and would still catch any wrong derivative rule, whose errors are O(1).
    private const double FiniteDifferenceTolerance = 1e-7;
    private const double H = 1e-6;

    // Forward and reverse mode compute the same derivative in another order: they agree to rounding (docs/ARCHITECTURE.md §7.2: ~1e-12).
    private const double ModesAgree = 1e-12;

    private static readonly Tensor W = Tensor.RandomNormal(seed: 1, [4, 3], std: 0.7);
    private static readonly Tensor B = Tensor.RandomNormal(seed: 2, [4], std: 0.3);
    private static readonly Tensor C = Tensor.RandomNormal(seed: 3, [2, 4]);
    private static readonly Tensor X = Tensor.RandomNormal(seed: 4, [2, 3]);
    private static readonly Tensor V = Tensor.RandomNormal(seed: 5, [2, 3]);

    /// <summary>
    /// A scalar function of x (2, 3) that goes through linear, tanh, softmax, chunk, concat, sigmoid, matmul,
    /// transpose, reductions along a dimension, a norm, log-sum-exp, a power and max.
    /// </summary>
    private static Tensor F(Tensor x)
    {
        var h = x.Linear(W, B).Tanh();                                   // (2, 4)
        var halves = h.Chunk(2, dim: 1);                                  // two (2, 2)
        var mixed = Tensor.Concat([halves[1], halves[0].Sigmoid()], dim: 1);
        var scores = (mixed.Softmax() * C).Sum();
        var gram = Tensor.MatMul(x, x, transposeB: true).LogSumExp(1).Mean();
        var spread = (x.Square().Sum(1) + 1.0).Sqrt().Sum() + x.T.Norm() * 0.1;
        return scores + gram + spread + x.Pow(3.0).Max(0).Sum() * 0.2 - x.Exp().Mean(dim: 0).Log().Sum();
    }

    /// <summary>A vector function (2, 4) of x (2, 3), for Jacobians and pullbacks.</summary>
    private static Tensor G(Tensor x) => x.Linear(W, B).Tanh() * x.Sum(1, keepDim: true).Sigmoid();

    /// <summary>x with entry i moved by delta.</summary>
    private static Tensor Moved(Tensor x, int i, double delta)
    {
        var values = x.ToArray();
        values[i] += delta;
        return Tensor.FromArray(values, x.Shape);
    }

    /// <summary>∂f/∂x_i for every i by centred differences.</summary>
    private static double[] FiniteDifferenceGradient(Func<Tensor, Tensor> f, Tensor x) =>
        Enumerable.Range(0, x.Numel).Select(i => (f(Moved(x, i, H)).ToScalar() - f(Moved(x, i, -H)).ToScalar()) / (2 * H)).ToArray();

    private static double Dot(Tensor a, Tensor b) => a.ToArray().Zip(b.ToArray(), (p, q) => p * q).Sum();

    [Fact]
    public void The_gradient_of_a_composition_matches_finite_differences()
    {
        var gradient = Differentiation.Grad(F, X);
        Assert.Equal(X.Shape, gradient.Shape);
        Values(FiniteDifferenceGradient(F, X), gradient.ToArray(), FiniteDifferenceTolerance);
        var both = Differentiation.ValueAndGrad(F, X);
        Assert.Equal(F(X).ToScalar(), both.Value.ToScalar(), 14);
        Values(gradient.ToArray(), both.Gradient.ToArray());
    }

    [Fact]
    public void Forward_mode_gives_the_directional_derivative()
    {
        var (value, tangent) = Differentiation.Jvp(F, X, V);
        Assert.Equal(F(X).ToScalar(), value.ToScalar(), 14);
        var finite = (F(X + V * H).ToScalar() - F(X - V * H).ToScalar()) / (2 * H);
        Assert.True(Math.Abs(tangent.ToScalar() - finite) <= FiniteDifferenceTolerance * Math.Max(1, Math.Abs(finite)), $"J·v {tangent.ToScalar():R}, finite differences {finite:R}");
        var reverse = Dot(Differentiation.Grad(F, X), V);
        Assert.True(Math.Abs(tangent.ToScalar() - reverse) <= ModesAgree * Math.Max(1, Math.Abs(reverse)), $"forward {tangent.ToScalar():R}, reverse {reverse:R}");
    }

    [Fact]
    public void Pullbacks_satisfy_the_adjoint_identity()
    {
        var u = Tensor.RandomNormal(seed: 6, [2, 4]);
        var (value, pullback) = Differentiation.Vjp(G, X);
        Values(G(X).ToArray(), value.ToArray(), 1e-15);
        var jv = Differentiation.Jvp(G, X, V).Tangent;
        // ⟨u, J·v⟩ = ⟨Jᵀ·u, v⟩, forward mode on the left and reverse mode on the right.
        var left = Dot(u, jv);
        var right = Dot(pullback(u), V);
        Assert.True(Math.Abs(left - right) <= ModesAgree * Math.Max(1, Math.Abs(left)), $"⟨u, Jv⟩ = {left:R}, ⟨Jᵀu, v⟩ = {right:R}");
        // The pullback serves several cotangents; a one-hot cotangent picks one row of the Jacobian.
        var e = Tensor.OneHot(8, [5]).Reshape(2, 4);
        Values(FiniteDifferenceGradient(x => G(x).Reshape(8).Select(0, 5), X), pullback(e).ToArray(), FiniteDifferenceTolerance);
    }

    [Fact]
    public void The_Jacobian_holds_every_partial_derivative()
    {
        var jacobian = Differentiation.Jacobian(G, X);
        Assert.Equal(new[] { 2, 4, 2, 3 }, jacobian.Shape);
        var rows = jacobian.Reshape(8, 6);
        for (var k = 0; k < 8; k++)
        {
            var output = k;
            Values(FiniteDifferenceGradient(x => G(x).Reshape(8).Select(0, output), X), rows.Select(0, k).ToArray(), FiniteDifferenceTolerance);
        }
    }

    [Fact]
    public void Hessian_vector_products_and_nested_gradients()
    {
        // H·v against centred differences of the gradient along v (same error budget as above, on the gradient).
        var hv = Differentiation.Hvp(F, X, V);
        var plus = Differentiation.Grad(F, X + V * H).ToArray();
        var minus = Differentiation.Grad(F, X - V * H).ToArray();
        Values(plus.Zip(minus, (p, m) => (p - m) / (2 * H)).ToArray(), hv.ToArray(), FiniteDifferenceTolerance);
        // d/dx Σ d/dx x³ = 6x: a gradient of a gradient, exact up to rounding.
        var x = Tensor.FromArray([-1.5, 0.5, 2.0]);
        var second = Differentiation.Grad(y => Differentiation.Grad(z => (z * z * z).Sum(), y).Sum(), x);
        Values(new[] { -9.0, 3, 12 }, [3], second, 1e-14);
    }

    [Fact]
    public void Stop_gradient_and_checkpoint()
    {
        var x = Tensor.FromArray([0.5, -2.0]);
        // d/dx (c·x) with c = x held constant is x, not 2x.
        Values(x.ToArray(), [2], Differentiation.Grad(y => (Differentiation.StopGradient(y) * y).Sum(), x));
        Assert.Equal(0.0, Differentiation.Grad(y => Differentiation.StopGradient(y).Sum(), x).Sum().ToScalar());
        // A checkpointed segment re-runs during the sweep and gives the plain gradient, 1 − tanh²(x).
        var checkpointed = Differentiation.Grad(y => Differentiation.Checkpoint(xs => xs[0].Tanh().Sum(), y) * 3.0, x);
        Values(x.ToArray().Map(v => 3 * (1 - Math.Tanh(v) * Math.Tanh(v))), [2], checkpointed, 1e-14);
    }

    private static readonly Dictionary<string, Tensor> Parameters = new()
    {
        ["weight"] = W,
        ["bias"] = B,
    };

    private static Tensor Loss(IReadOnlyDictionary<string, Tensor> p) => (X.Linear(p["weight"], p["bias"]).Tanh() - C).Square().Mean();

    [Fact]
    public void Named_parameters_are_differentiated_under_their_names()
    {
        var gradients = Differentiation.Grad(Loss, Parameters);
        Assert.Equal(new[] { "weight", "bias" }, gradients.Keys);
        Assert.Equal(W.Shape, gradients["weight"].Shape);
        Values(FiniteDifferenceGradient(w => Loss(new Dictionary<string, Tensor> { ["weight"] = w, ["bias"] = B }), W), gradients["weight"].ToArray(), FiniteDifferenceTolerance);
        Values(FiniteDifferenceGradient(b => Loss(new Dictionary<string, Tensor> { ["weight"] = W, ["bias"] = b }), B), gradients["bias"].ToArray(), FiniteDifferenceTolerance);
        var (value, same) = Differentiation.ValueAndGrad(Loss, Parameters);
        Assert.Equal(Loss(Parameters).ToScalar(), value.ToScalar(), 14);
        Values(gradients["bias"].ToArray(), same["bias"].ToArray());
        var (_, pullback) = Differentiation.Vjp(Loss, Parameters);
        Values(gradients["weight"].ToArray().Map(g => 2 * g), pullback(Tensor.Scalar(2))["weight"].ToArray(), 1e-15);
    }

    [Fact]
    public void Named_directions_may_come_in_any_order()
    {
        var directions = new Dictionary<string, Tensor>
        {
            ["bias"] = Tensor.RandomNormal(7, [4]),
            ["weight"] = Tensor.RandomNormal(8, [4, 3]),
        };
        var gradients = Differentiation.Grad(Loss, Parameters);
        var expected = Dot(gradients["weight"], directions["weight"]) + Dot(gradients["bias"], directions["bias"]);
        var tangent = Differentiation.Jvp(Loss, Parameters, directions).Tangent.ToScalar();
        Assert.True(Math.Abs(tangent - expected) <= ModesAgree * Math.Max(1, Math.Abs(expected)), $"J·v {tangent:R}, ⟨∇f, v⟩ {expected:R}");
        // H·v by forward over reverse against centred differences of the gradient along v.
        var hv = Differentiation.Hvp(Loss, Parameters, directions);
        Assert.Equal(new[] { "weight", "bias" }, hv.Keys);
        Dictionary<string, Tensor> Along(double t) => Parameters.ToDictionary(p => p.Key, p => p.Value + directions[p.Key] * t);
        var plus = Differentiation.Grad(Loss, Along(H));
        var minus = Differentiation.Grad(Loss, Along(-H));
        foreach (var name in new[] { "weight", "bias" })
            Values(plus[name].ToArray().Zip(minus[name].ToArray(), (p, m) => (p - m) / (2 * H)).ToArray(), hv[name].ToArray(), FiniteDifferenceTolerance);
    }

    [Fact]
    public void Misuse_is_refused_with_the_shapes()
    {
        Assert.Contains("(2, 3)", Assert.ThrowsAny<ArgumentException>(() => Differentiation.Grad(x => x * 2.0, X)).Message);
        Assert.Contains("(3,)", Assert.ThrowsAny<ArgumentException>(() => Differentiation.Jvp(F, X, Tensor.Zeros(3))).Message);
        Assert.Contains("(2, 2)", Assert.ThrowsAny<ArgumentException>(() => Differentiation.Vjp(G, X).Pullback(Tensor.Zeros(2, 2))).Message);
        Assert.Equal("f", Assert.Throws<ArgumentNullException>(() => Differentiation.Grad((Func<Tensor, Tensor>)null!, X)).ParamName);
        Assert.Throws<InvalidOperationException>(() => Differentiation.Grad(_ => null!, X));
        var missing = new Dictionary<string, Tensor> { ["weight"] = W };
        Assert.Equal("directions", Assert.Throws<ArgumentException>(() => Differentiation.Jvp(Loss, Parameters, missing)).ParamName);
    }

    /// <summary>softsign f(x) = x/(1 + |x|), f′(x) = 1/(1 + |x|)², its rules written with tensor ops so they nest.</summary>
    private static readonly CustomOperation Softsign = CustomOperation.Define("softsign",
        value: xs => xs[0] / (1.0 + xs[0].Abs()),
        forward: (xs, f, dxs) => dxs[0] / (1.0 + xs[0].Abs()).Square(),
        reverse: (xs, f, g) => new[] { g / (1.0 + xs[0].Abs()).Square() });

    [Fact]
    public void A_custom_op_is_differentiated_by_its_own_rules()
    {
        double[] v = [-2, -0.5, 0.25, 3];
        var x = Tensor.FromArray(v);
        Assert.Equal("softsign", Softsign.Name);
        Values(v.Map(a => a / (1 + Math.Abs(a))), [4], Softsign.Apply(x), 1e-15);
        Values(v.Map(a => 1 / ((1 + Math.Abs(a)) * (1 + Math.Abs(a)))), [4], Differentiation.Grad(y => Softsign.Apply(y).Sum(), x), 1e-15);
        Values(v.Map(a => 1 / ((1 + Math.Abs(a)) * (1 + Math.Abs(a)))), [4], Differentiation.Jvp(y => Softsign.Apply(y), x, Tensor.Ones(4)).Tangent, 1e-15);
        // f″(x) = −2·sign(x)/(1 + |x|)³, through the reverse rule differentiated again.
        var second = Differentiation.Grad(y => Differentiation.Grad(z => Softsign.Apply(z).Sum(), y).Sum(), x);
        Values(v.Map(a => -2 * Math.Sign(a) / Math.Pow(1 + Math.Abs(a), 3)), [4], second, 1e-14);
        // Inside a larger composition it agrees with finite differences too.
        Values(FiniteDifferenceGradient(y => Softsign.Apply(y.Linear(W, B)).Square().Sum(), X),
               Differentiation.Grad(y => Softsign.Apply(y.Linear(W, B)).Square().Sum(), X).ToArray(), FiniteDifferenceTolerance);
    }

    [Fact]
    public void A_custom_op_with_a_wrong_rule_names_itself_and_the_shapes()
    {
        var broken = CustomOperation.Define("broken",
            value: xs => xs[0] * 2.0,
            forward: (xs, f, dxs) => dxs[0] * 2.0,
            reverse: (xs, f, g) => new[] { g.Sum() });
        var message = Assert.ThrowsAny<ArgumentException>(() => Differentiation.Grad(y => broken.Apply(y).Sum(), X)).Message;
        Assert.Contains("broken", message);
        Assert.Contains("(2, 3)", message);
        Assert.Throws<ArgumentNullException>(() => CustomOperation.Define("x", null!, (xs, f, d) => f, (xs, f, g) => xs));
    }
}

namespace RnnAd.CSharp.Tests;

/// <summary>
/// The minimal gated unit (Zhou et al., 2016) as a C# custom cell. The lines between the markers are the README's
/// example ("Custom cells and losses in C#") verbatim; a test holds the two together, so the README's code compiles.
/// </summary>
internal static class MinimalGatedUnit
{
    public static CustomCell Create()
    {
        // README begin
        // f = σ(W_f x + b_f + U_f h),  n = tanh(W_n x + b_n + U_n (f ⊙ h)),  h' = (1 − f) ⊙ h + f ⊙ n
        var mgu = new CustomCell("MGU",
            [
                new CustomCellParameter("weight_ih", (input, hidden) => [2 * hidden, input]),
                new CustomCellParameter("weight_hf", (_, hidden) => [hidden, hidden]),
                new CustomCellParameter("weight_hn", (_, hidden) => [hidden, hidden]),
                new CustomCellParameter("bias", (_, hidden) => [2 * hidden], ParameterInit.Zeros),
            ],
            stateSlots: 1,
            (p, state, x) =>
            {
                var h = state[0];
                var xs = x.Linear(p["weight_ih"], p["bias"]).Chunk(2, dim: 1);
                var f = (xs[0] + h.Linear(p["weight_hf"])).Sigmoid();
                var n = (xs[1] + (f * h).Linear(p["weight_hn"])).Tanh();
                return [(1.0 - f) * h + f * n];
            });
        // README end
        return mgu;
    }
}

namespace RnnAd;

/// <summary>The recurrent cell of a model; equations and parameter layout are PyTorch's.</summary>
public enum CellType
{
    /// <summary>Elman RNN with tanh (PyTorch's <c>nn.RNN</c>).</summary>
    Rnn,
    /// <summary>Elman RNN with relu (<c>nn.RNN(nonlinearity='relu')</c>).</summary>
    RnnRelu,
    /// <summary>Long short-term memory (<c>nn.LSTM</c>).</summary>
    Lstm,
    /// <summary>Gated recurrent unit (<c>nn.GRU</c>).</summary>
    Gru,
    /// <summary>A cell of the user's (<see cref="ModelDescription.CustomCell"/>).</summary>
    Custom,
}

/// <summary>How a model reads its input.</summary>
public enum InputType
{
    /// <summary>Token ids, turned into one-hot vectors of the vocabulary size.</summary>
    OneHot,
    /// <summary>Token ids, looked up in a learned embedding table.</summary>
    Embedding,
    /// <summary>Real-valued feature vectors, one per time step.</summary>
    Features,
}

/// <summary>Where a model makes its predictions.</summary>
public enum OutputMode
{
    /// <summary>A prediction at every time step (many-to-many: language models, tagging).</summary>
    EveryStep,
    /// <summary>One prediction per sequence, from the final states (many-to-one: classification).</summary>
    LastStep,
}

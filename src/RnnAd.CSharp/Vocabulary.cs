using Microsoft.FSharp.Core;
using RnnAd.FSharp.Data;
using CoreVocabulary = RnnAd.FSharp.Data.Vocab;

namespace RnnAd;

/// <summary>Whether a vocabulary's tokens are characters or words.</summary>
public enum TokenKind
{
    /// <summary>One token per character (Unicode text element).</summary>
    Characters,
    /// <summary>One token per word (lower-cased; see <see cref="Vocabulary.FromWords"/>).</summary>
    Words,
}

/// <summary>How a vocabulary is built from text.</summary>
public sealed record VocabularyOptions
{
    /// <summary>Add an <c>&lt;unk&gt;</c> token that unknown tokens map to (otherwise they are an error).</summary>
    public bool AddUnknown { get; init; }

    /// <summary>Add a <c>&lt;pad&gt;</c> token with id 0, used to pad shorter sequences.</summary>
    public bool AddPadding { get; init; }

    /// <summary>Keep at most this many ordinary tokens (the most frequent); null for no limit.</summary>
    public int? MaxSize { get; init; }

    /// <summary>Keep only tokens seen at least this many times.</summary>
    public int MinFrequency { get; init; } = 1;

    internal FSharp.Data.VocabOptions ToCore()
    {
        if (MaxSize is <= 0) throw new ArgumentException($"MaxSize must be positive, got {MaxSize}.", nameof(MaxSize));
        if (MinFrequency < 1) throw new ArgumentException($"MinFrequency must be at least 1, got {MinFrequency}.", nameof(MinFrequency));
        return new FSharp.Data.VocabOptions(AddUnknown, AddPadding, MaxSize is { } m ? FSharpOption<int>.Some(m) : null, MinFrequency);
    }
}

/// <summary>
/// Tokens and their ids: ordinary tokens by decreasing frequency (ties in ordinal order) after the special
/// tokens (<c>&lt;pad&gt;</c> first, then <c>&lt;unk&gt;</c>). Immutable.
/// </summary>
public sealed class Vocabulary
{
    private Vocabulary(CoreVocabulary inner, TokenKind kind)
    {
        Inner = inner;
        Kind = kind;
    }

    internal CoreVocabulary Inner { get; }

    /// <summary>Whether tokens are characters or words (how text is split and joined).</summary>
    public TokenKind Kind { get; }

    /// <summary>Number of tokens.</summary>
    public int Count => Inner.Count;

    /// <summary>The tokens in id order.</summary>
    public IReadOnlyList<string> Tokens => Inner.Tokens;

    /// <summary>The id of <c>&lt;pad&gt;</c>, if the vocabulary has it.</summary>
    public int? PaddingId => Inner.PaddingId is { } p ? p.Value : null;

    /// <summary>The id of <c>&lt;unk&gt;</c>, if the vocabulary has it.</summary>
    public int? UnknownId => Inner.UnknownId is { } u ? u.Value : null;

    /// <summary>A character vocabulary of a text.</summary>
    public static Vocabulary FromCharacters(string text, VocabularyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new(VocabModule.build((options ?? new()).ToCore(), new[] { Tokenize.characters(text) }), TokenKind.Characters);
    }

    /// <summary>A word vocabulary of texts: lower-cased, HTML line breaks removed, split on anything but letters, digits and inner apostrophes.</summary>
    public static Vocabulary FromWords(IEnumerable<string> texts, VocabularyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        return new(VocabModule.build((options ?? new()).ToCore(), texts.Select(t => Tokenize.words(t ?? throw new ArgumentNullException(nameof(texts), "A text is null.")))), TokenKind.Words);
    }

    /// <summary>A vocabulary with exactly these tokens in this id order (e.g. one saved with a model).</summary>
    public static Vocabulary FromTokens(IReadOnlyList<string> tokens, TokenKind kind)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return new(VocabModule.ofTokens(tokens.ToArray()), kind);
    }

    /// <summary>The tokens of a text, split as this vocabulary splits text.</summary>
    public string[] Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Kind == TokenKind.Characters ? Tokenize.characters(text) : Tokenize.words(text);
    }

    /// <summary>The ids of a text's tokens; an unknown token maps to <c>&lt;unk&gt;</c> or, without one, throws naming it and its position.</summary>
    public int[] Encode(string text) => VocabModule.encode(Inner, Split(text));

    /// <summary>The text of ids: characters joined directly, words with spaces.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return string.Join(Kind == TokenKind.Characters ? "" : " ", VocabModule.decode(Inner, ids.ToArray()));
    }

    /// <summary>The id of a token, if it is in the vocabulary.</summary>
    public bool TryGetId(string token, out int id)
    {
        var found = Inner.TryId(token);
        id = found is null ? -1 : found.Value;
        return found is not null;
    }

    internal static Vocabulary FromCore(string[] tokens)
    {
        // Saved vocabularies keep their tokens only; single-character ordinary tokens mean a character vocabulary.
        var ordinary = tokens.Where(t => t != CoreVocabulary.PaddingToken && t != CoreVocabulary.UnknownToken);
        var kind = ordinary.All(t => Tokenize.characters(t).Length == 1) ? TokenKind.Characters : TokenKind.Words;
        return new(VocabModule.ofTokens(tokens), kind);
    }
}

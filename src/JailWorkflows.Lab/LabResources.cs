using System.Reflection;
using System.Text;

namespace JailWorkflows.Lab;

/// <summary>The embedded shims (<c>shims/...</c>) and tree templates (<c>tree/...</c>) of this assembly.</summary>
internal static class LabResources
{
    private static readonly Assembly Assembly = typeof(LabResources).Assembly;

    /// <summary>Resource names below a prefix (e.g. <c>shims/source/</c>), with the prefix removed.</summary>
    public static IEnumerable<string> Under(string prefix) =>
        Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Select(n => n[prefix.Length..])
            .Order(StringComparer.Ordinal);

    /// <summary>The text of a resource.</summary>
    public static string Text(string name)
    {
        using var stream = Assembly.GetManifestResourceStream(name) ?? throw new LabException($"Missing embedded resource {name}.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Writes every resource below <paramref name="prefix"/> into <paramref name="targetDir"/> (keeping relative paths),
    /// replacing <c>@KEY@</c> placeholders; files starting with <c>#!</c> become executable.
    /// </summary>
    /// <param name="prefix">Resource prefix ending in <c>/</c>.</param>
    /// <param name="targetDir">Target directory.</param>
    /// <param name="substitutions">Placeholder values (keys without the @ signs).</param>
    /// <param name="overwrite">False: existing files are kept (repair only what is missing).</param>
    /// <returns>The number of files written.</returns>
    public static int Extract(string prefix, string targetDir, IReadOnlyDictionary<string, string>? substitutions, bool overwrite)
    {
        var count = 0;
        foreach (var relative in Under(prefix))
        {
            var target = Path.Combine(targetDir, relative);
            if (!overwrite && File.Exists(target))
            {
                continue;
            }

            var text = Substitute(Text(prefix + relative), substitutions);
            var mode = text.StartsWith("#!", StringComparison.Ordinal) ? LabProcesses.Executable
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            LabProcesses.WriteText(target, text, mode);
            count++;
        }

        return count;
    }

    /// <summary>Replaces <c>@KEY@</c> placeholders.</summary>
    public static string Substitute(string text, IReadOnlyDictionary<string, string>? substitutions)
    {
        if (substitutions is null)
        {
            return text;
        }

        var sb = new StringBuilder(text);
        foreach (var (key, value) in substitutions)
        {
            sb.Replace("@" + key + "@", value);
        }

        return sb.ToString();
    }
}

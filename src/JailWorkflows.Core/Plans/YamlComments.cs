using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace JailWorkflows.Plans;

/// <summary>
/// Puts comment lines into YAML text above the lines of given nodes, found with YamlDotNet's parser (so the text
/// itself is not re-serialised and the comments cannot change what it means).
/// </summary>
internal static class YamlComments
{
    /// <summary>Inserts <c># …</c> lines, indented like the line they precede.</summary>
    /// <param name="yaml">Block-style YAML (as <see cref="PlanWriter"/> writes it).</param>
    /// <param name="comments">Per node path the comment lines (without <c>#</c>). A path is the mapping keys joined by
    /// <c>.</c> with <c>[i]</c> for list items: <c>jailHost.ssh</c>, <c>servers[0].partitions[1]</c>. A key's comment goes
    /// above its key; a list item's above its first line. An empty line stays empty (a blank line). Paths not in the
    /// document are ignored.</param>
    /// <returns>The text with the comments.</returns>
    public static string InsertAbove(string yaml, IReadOnlyDictionary<string, IReadOnlyList<string>> comments)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(comments);
        var lineOf = NodeLines(yaml);
        var lines = yaml.Split('\n').ToList();
        var inserts = comments
            .Where(c => lineOf.ContainsKey(c.Key) && c.Value.Count > 0)
            .Select(c => (Line: lineOf[c.Key], Text: c.Value))
            .OrderByDescending(c => c.Line)
            .ToList();
        foreach (var (line, text) in inserts)
        {
            var target = lines[line];
            var indent = target[..(target.Length - target.TrimStart(' ').Length)];
            lines.InsertRange(line, text.Select(t => t.Length == 0 ? string.Empty : (indent + "# " + t).TrimEnd()));
        }

        return string.Join('\n', lines);
    }

    /// <summary>The 0-based line of every key and list item, by path.</summary>
    private static Dictionary<string, int> NodeLines(string yaml)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        var parser = new Parser(new StringReader(yaml));
        var stack = new Stack<Frame>();
        while (parser.MoveNext())
        {
            var current = parser.Current;
            switch (current)
            {
                case Scalar scalar when stack.Count > 0 && stack.Peek() is { IsMapping: true, ExpectKey: true } keyFrame:
                    keyFrame.Key = scalar.Value;
                    keyFrame.ExpectKey = false;
                    result.TryAdd(Join(keyFrame.Path, scalar.Value), (int)scalar.Start.Line - 1);
                    break;
                case Scalar scalar:
                    ChildPath(stack, (int)scalar.Start.Line - 1, result);
                    break;
                case MappingStart or SequenceStart:
                    var path = ChildPath(stack, (int)current!.Start.Line - 1, result);
                    stack.Push(new Frame { Path = path, IsMapping = current is MappingStart, ExpectKey = true });
                    break;
                case MappingEnd or SequenceEnd:
                    stack.Pop();
                    break;
            }
        }

        return result;
    }

    /// <summary>The path of the node starting now (a value of the current key, or the next list item), recording list items.</summary>
    private static string ChildPath(Stack<Frame> stack, int line, Dictionary<string, int> result)
    {
        if (stack.Count == 0)
        {
            return string.Empty;
        }

        var parent = stack.Peek();
        if (parent.IsMapping)
        {
            parent.ExpectKey = true;
            return Join(parent.Path, parent.Key ?? string.Empty);
        }

        var item = parent.Path + "[" + parent.Index.ToString(CultureInfo.InvariantCulture) + "]";
        parent.Index++;
        result.TryAdd(item, line);
        return item;
    }

    private static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

    private sealed class Frame
    {
        public required string Path { get; init; }

        public required bool IsMapping { get; init; }

        public bool ExpectKey { get; set; }

        public string? Key { get; set; }

        public int Index { get; set; }
    }
}

using System.Globalization;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// The pre-installworld merge of a jail's <c>etc/master.passwd</c> (master.passwd(5)) and <c>etc/group</c> (group(5)) with
/// the new world's versions, as an admin does it in <c>mergemaster -p</c> (mergemaster(8)): installworld checks that the
/// users and groups it needs exist in the destination, so the entries of the new world that the jail lacks are added;
/// every entry the jail has stays exactly as it is (passwords, shells, members), and comments are kept.
/// Follow with <see cref="Mergemaster.PwdMkdb"/> (pwd_mkdb(8)) for master.passwd.
/// </summary>
public static class PasswdFiles
{
    /// <summary>
    /// Adds to <paramref name="installed"/> each entry of <paramref name="template"/> whose name it lacks. An entry whose
    /// numeric id (uid for master.passwd, gid for group) is already taken by another name in the installed file is not
    /// added but reported in <see cref="PasswdMerge.Conflicts"/>: two names for one id is for a person to decide.
    /// Idempotent: merging the result again adds nothing.
    /// </summary>
    /// <param name="installed">The jail's file (LF line ends).</param>
    /// <param name="template">The new world's file (from the temproot of <c>mergemaster -p</c>).</param>
    /// <param name="kind">Which file the two texts are (decides the id field and the field count).</param>
    /// <returns>The merged text (installed text, then the added lines) and what was added or refused.</returns>
    /// <exception cref="FormatException">A non-comment line of either file has the wrong number of fields
    /// (10 for master.passwd, 4 for group).</exception>
    public static PasswdMerge AddMissing(string installed, string template, PasswdFileKind kind)
    {
        ArgumentNullException.ThrowIfNull(installed);
        ArgumentNullException.ThrowIfNull(template);
        var (fields, idField) = kind == PasswdFileKind.MasterPasswd ? (10, 2) : (4, 2);
        var have = Entries(installed, fields, kind).ToList();
        var names = have.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        var ids = have.ToLookup(e => e.Fields[idField], e => e.Name, StringComparer.Ordinal);
        var added = new List<string>();
        var conflicts = new List<string>();
        var lines = new List<string>();
        foreach (var entry in Entries(template, fields, kind))
        {
            if (names.Contains(entry.Name))
            {
                continue;
            }

            var id = entry.Fields[idField];
            var owners = ids[id].ToList();
            if (owners.Count > 0)
            {
                conflicts.Add(string.Create(CultureInfo.InvariantCulture, $"{entry.Name} ({(kind == PasswdFileKind.MasterPasswd ? "uid" : "gid")} {id} belongs to {string.Join(", ", owners)})"));
                continue;
            }

            names.Add(entry.Name);
            added.Add(entry.Name);
            lines.Add(entry.Line);
        }

        if (lines.Count == 0)
        {
            return new PasswdMerge(installed, added, conflicts);
        }

        var text = installed.Length == 0 || installed.EndsWith('\n') ? installed : installed + "\n";
        return new PasswdMerge(text + string.Join('\n', lines) + "\n", added, conflicts);
    }

    private static IEnumerable<(string Name, string[] Fields, string Line)> Entries(string text, int fields, PasswdFileKind kind)
    {
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            var f = line.Split(':');
            if (f.Length != fields)
            {
                throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"{(kind == PasswdFileKind.MasterPasswd ? "master.passwd" : "group")} line {number} has {f.Length} fields, not {fields}: '{line}'."));
            }

            yield return (f[0], f, line);
        }
    }
}

/// <summary>Which account file <see cref="PasswdFiles.AddMissing"/> merges.</summary>
public enum PasswdFileKind
{
    /// <summary><c>etc/master.passwd</c>: <c>name:password:uid:gid:class:change:expire:gecos:home:shell</c>.</summary>
    MasterPasswd,

    /// <summary><c>etc/group</c>: <c>name:password:gid:members</c>.</summary>
    Group,
}

/// <summary>The result of <see cref="PasswdFiles.AddMissing"/>.</summary>
/// <param name="Text">The merged file text.</param>
/// <param name="Added">Names added, in template order.</param>
/// <param name="Conflicts">Template entries not added because their id belongs to another name, with that name.</param>
public sealed record PasswdMerge(string Text, IReadOnlyList<string> Added, IReadOnlyList<string> Conflicts);

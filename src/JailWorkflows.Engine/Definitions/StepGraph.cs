namespace JailWorkflows.Engine.Definitions;

/// <summary>A piece of a structured definition: one step, or the parallel branches after a fork.</summary>
internal abstract record GraphElement;

/// <summary>One step (its index in the definition).</summary>
internal sealed record StepElement(int Index) : GraphElement;

/// <summary>The branches after the fork step <paramref name="Fork"/>, each a series; they run in parallel, and the element
/// after this one (the join) runs once all of them ended. A branch that goes straight from the fork to the join is left out.</summary>
internal sealed record ParallelElement(int Fork, IReadOnlyList<IReadOnlyList<GraphElement>> Branches) : GraphElement;

/// <summary>
/// The shape of a definition's step graph: checks that it is structured fork/join (series-parallel) and takes it apart into
/// series and parallel branches, for the compiler. Preconditions (checked by the loader before): every step's predecessors
/// come before it in the definition, step 0 has none and every other step at least one, so the graph is acyclic, starts at
/// step 0 and reaches every step.
/// </summary>
internal static class StepGraph
{
    /// <summary>Analyzes a graph.</summary>
    /// <param name="ids">The step ids, in definition order.</param>
    /// <param name="after">For each step, the indexes of the steps it runs after (all lower than its own).</param>
    /// <returns>The top-level series (null when there are errors) and the errors (step index, message).</returns>
    public static (IReadOnlyList<GraphElement>? Series, IReadOnlyList<(int Step, string Message)> Errors) Analyze(IReadOnlyList<string> ids, IReadOnlyList<IReadOnlyList<int>> after)
    {
        var n = ids.Count;
        var next = new List<int>[n];
        for (var i = 0; i < n; i++)
        {
            next[i] = [];
        }

        for (var i = 0; i < n; i++)
        {
            foreach (var p in after[i])
            {
                next[p].Add(i);
            }
        }

        var errors = new List<(int, string)>();

        // One end: a branch that stops while the others go on never meets them again.
        var ends = Enumerable.Range(0, n).Where(i => next[i].Count == 0).ToList();
        if (ends.Count > 1)
        {
            var last = ends[^1];
            foreach (var end in ends.Take(ends.Count - 1))
            {
                errors.Add((end, $"no step runs after step '{ids[end]}', but the definition goes on to '{ids[last]}': the branches of a fork meet again at one join step; list '{ids[end]}' in the 'after' of the step where its branch meets the others"));
            }

            return (null, errors);
        }

        // Post-dominators (the indexes are a topological order): the nearest one of a fork is where its branches meet.
        var postDominators = new HashSet<int>[n];
        var join = new int[n];
        for (var i = n - 1; i >= 0; i--)
        {
            HashSet<int>? common = null;
            foreach (var s in next[i])
            {
                if (common is null)
                {
                    common = [.. postDominators[s]];
                }
                else
                {
                    common.IntersectWith(postDominators[s]);
                }
            }

            join[i] = common is { Count: > 0 } ? common.Min() : -1;
            postDominators[i] = common ?? [];
            postDominators[i].Add(i);
        }

        var visited = new bool[n];
        var failed = false;
        var series = Series(0, -1, -1);
        return failed ? (null, errors) : (series, errors);

        List<GraphElement> Series(int current, int stop, int fork)
        {
            var list = new List<GraphElement>();
            while (current != stop && !failed)
            {
                if (visited[current])
                {
                    // Reached from two branches that do not meet first: a join of branches of different forks, or of some
                    // branches of a fork only.
                    var before = string.Join(", ", after[current].Select(p => $"'{ids[p]}'"));
                    errors.Add((current, fork < 0
                        ? $"step '{ids[current]}' runs after {before}, which do not meet at one join step: make it run after one of them only, or after the step where they meet"
                        : $"step '{ids[current]}' runs after {before}, which lie in different branches of the fork '{ids[fork]}' (they meet only at '{ids[join[fork]]}'): a step after several branches is their join and runs after every branch of one fork; make it run after one branch only, or let it join all branches of '{ids[fork]}'"));
                    failed = true;
                    break;
                }

                visited[current] = true;
                list.Add(new StepElement(current));
                if (next[current].Count == 0)
                {
                    break;
                }

                if (next[current].Count == 1)
                {
                    current = next[current][0];
                    continue;
                }

                var meet = join[current];
                var branches = new List<IReadOnlyList<GraphElement>>();
                foreach (var start in next[current])
                {
                    if (start != meet)
                    {
                        branches.Add(Series(start, meet, current));
                    }
                }

                list.Add(new ParallelElement(current, branches));
                current = meet;
            }

            return list;
        }
    }
}

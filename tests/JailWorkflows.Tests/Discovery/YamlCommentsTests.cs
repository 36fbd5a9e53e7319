using JailWorkflows.Plans;
using YamlDotNet.RepresentationModel;

namespace JailWorkflows.Tests.Discovery;

public sealed class YamlCommentsTests
{
    private const string Yaml = "a:\n  b: \"x # not a comment\"\n  c:\n  - d: 1\n    e: 2\n  - d: 3\nf: 4\n";

    [Fact]
    public void Comments_go_above_keys_and_list_items_and_change_nothing_the_yaml_says()
    {
        var text = YamlComments.InsertAbove(Yaml, new Dictionary<string, IReadOnlyList<string>>
        {
            ["a"] = ["top"],
            ["a.b"] = ["about b"],
            ["a.c[1]"] = ["second item", "two lines"],
            ["a.c[0].e"] = ["about e"],
            ["f"] = ["about f"],
            ["nowhere.at.all"] = ["ignored"],
        });

        Assert.Equal(
            "# top\na:\n  # about b\n  b: \"x # not a comment\"\n  c:\n  - d: 1\n    # about e\n    e: 2\n  # second item\n  # two lines\n  - d: 3\n# about f\nf: 4\n",
            text);
        Assert.True(Load(Yaml).Equals(Load(text)));
    }

    private static YamlNode Load(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents[0].RootNode;
    }
}

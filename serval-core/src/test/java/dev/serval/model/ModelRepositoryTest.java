package dev.serval.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ModelRepositoryTest {
    @TempDir
    Path root;

    @TempDir
    Path outside;

    private Path model(String name, String... versions) throws IOException {
        Path dir = Files.createDirectories(root.resolve(name));
        for (String version : versions) {
            Files.createDirectories(dir.resolve(version));
            Files.writeString(dir.resolve(version).resolve(ModelRepository.MODEL_FILE), "not really onnx");
        }
        return dir;
    }

    private Map<String, ModelRepository.Source> scan() throws IOException {
        return new ModelRepository(root).scan().stream()
                .collect(Collectors.toMap(ModelRepository.Source::name, Function.identity()));
    }

    private ModelRepository.Source only() throws IOException {
        List<ModelRepository.Source> sources = new ModelRepository(root).scan();
        assertThat(sources).hasSize(1);
        return sources.get(0);
    }

    @Test
    void constructor_rejectsMissingRoot() {
        Path missing = root.resolve("nope");
        assertThatThrownBy(() -> new ModelRepository(missing))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("does not exist");
    }

    @Test
    void constructor_rejectsFileAsRoot() throws IOException {
        Path file = Files.writeString(root.resolve("file.txt"), "x");
        assertThatThrownBy(() -> new ModelRepository(file))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a directory");
    }

    @Test
    void root_isTheRealPath() throws IOException {
        Path link = Files.createSymbolicLink(outside.resolve("repo-link"), root);
        assertThat(new ModelRepository(link).root()).isEqualTo(root.toRealPath());
    }

    @Test
    void scan_isEmptyForEmptyRoot() throws IOException {
        assertThat(new ModelRepository(root).scan()).isEmpty();
    }

    @Test
    void scan_sortsModelsByName() throws IOException {
        model("zeta", "1");
        model("alpha", "1");
        model("mid", "1");
        model("Beta", "1");
        assertThat(new ModelRepository(root).scan()).extracting(ModelRepository.Source::name)
                .containsExactly("Beta", "alpha", "mid", "zeta");
    }

    @Test
    void scan_ignoresHiddenFoldersAndFiles() throws IOException {
        model("iris", "1");
        model(".git", "1");
        model(".hidden_model", "1");
        Files.writeString(root.resolve("README.md"), "# models");
        assertThat(new ModelRepository(root).scan()).extracting(ModelRepository.Source::name)
                .containsExactly("iris");
    }

    @Test
    void scan_listsVersionsNumericallyWithTheirModelFile() throws IOException {
        Path dir = model("m", "10", "2", "1");
        ModelRepository.Source source = only();
        assertThat(source.problem()).isEmpty();
        assertThat(source.versions().keySet()).containsExactly(1L, 2L, 10L);
        assertThat(source.versions().get(10L)).isEqualTo(root.toRealPath().resolve("m/10/model.onnx"));
        assertThat(source.directory()).isEqualTo(root.toRealPath().resolve("m"));
        assertThat(dir).exists();
    }

    @Test
    void scan_ignoresNonNumericVersionFolders() throws IOException {
        model("m", "1", "3", "latest", "v2", "1a", "-1", "1.0", ".4", " 5");
        assertThat(only().versions().keySet()).containsExactly(1L, 3L);
    }

    @Test
    void scan_ignoresVersionZeroAndLeadingZeros() throws IOException {
        model("m", "0", "01", "007", "00", "8");
        assertThat(only().versions().keySet()).containsExactly(8L);
    }

    @Test
    void scan_ignoresVersionNumberTooLongForALong() throws IOException {
        model("m", "2", "99999999999999999999");
        assertThat(only().versions().keySet()).containsExactly(2L);
    }

    @Test
    void scan_ignoresFilesNamedLikeVersions() throws IOException {
        Path dir = model("m", "1");
        Files.writeString(dir.resolve("2"), "a file, not a folder");
        assertThat(only().versions().keySet()).containsExactly(1L);
    }

    @Test
    void scan_keepsVersionWhoseModelFileIsMissing() throws IOException {
        Path dir = model("m");
        Files.createDirectories(dir.resolve("1"));
        ModelRepository.Source source = only();
        assertThat(source.problem()).isEmpty();
        assertThat(source.versions()).containsKey(1L);
        assertThat(source.versions().get(1L)).doesNotExist();
    }

    @Test
    void scan_reportsModelWithoutVersionFolders() throws IOException {
        model("empty", "zero", "0");
        ModelRepository.Source source = only();
        assertThat(source.versions()).isEmpty();
        assertThat(source.problem()).hasValueSatisfying(problem -> assertThat(problem)
                .contains("'empty'").contains("no version folders").contains("empty/1/model.onnx"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"-leading-dash", "has space", "a..b", "semi;colon", "dollar$"})
    void scan_reportsInvalidModelNames(String name) throws IOException {
        model(name, "1");
        ModelRepository.Source source = only();
        assertThat(source.name()).isEqualTo(name);
        assertThat(source.versions()).isEmpty();
        assertThat(source.problem()).hasValueSatisfying(problem ->
                assertThat(problem).contains("'" + name + "'").contains("not a valid model name"));
    }

    @Test
    void scan_reportsTooLongModelName() throws IOException {
        String name = "m".repeat(129);
        model(name, "1");
        assertThat(only().problem()).hasValueSatisfying(p -> assertThat(p).contains("not a valid model name"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"_private", "model.v2", "a-b", "Model_1", "9lives"})
    void scan_acceptsValidModelNames(String name) throws IOException {
        model(name, "1");
        assertThat(only().problem()).isEmpty();
    }

    @Test
    void isValidModelName_followsTheDocumentedRules() {
        assertThat(ModelRepository.isValidModelName("iris")).isTrue();
        assertThat(ModelRepository.isValidModelName("m".repeat(128))).isTrue();
        assertThat(ModelRepository.isValidModelName("m".repeat(129))).isFalse();
        assertThat(ModelRepository.isValidModelName(null)).isFalse();
        assertThat(ModelRepository.isValidModelName("")).isFalse();
        assertThat(ModelRepository.isValidModelName(".")).isFalse();
        assertThat(ModelRepository.isValidModelName("..")).isFalse();
        assertThat(ModelRepository.isValidModelName(".hidden")).isFalse();
        assertThat(ModelRepository.isValidModelName("a/b")).isFalse();
        assertThat(ModelRepository.isValidModelName("a\\b")).isFalse();
        assertThat(ModelRepository.isValidModelName("x..")).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"config.yaml", "config.yml", "config.json"})
    void scan_findsConfigFile(String file) throws IOException {
        Path dir = model("m", "1");
        Files.writeString(dir.resolve(file), "{}");
        assertThat(only().configFile()).contains(dir.resolve(file).toRealPath());
    }

    @Test
    void scan_prefersConfigYamlOverYmlOverJson() throws IOException {
        Path dir = model("m", "1");
        Files.writeString(dir.resolve("config.json"), "{}");
        Files.writeString(dir.resolve("config.yml"), "{}");
        assertThat(only().configFile().orElseThrow().getFileName().toString()).isEqualTo("config.yml");
        Files.writeString(dir.resolve("config.yaml"), "{}");
        assertThat(only().configFile().orElseThrow().getFileName().toString()).isEqualTo("config.yaml");
    }

    @Test
    void scan_hasNoConfigWhenAbsent() throws IOException {
        model("m", "1");
        assertThat(only().configFile()).isEmpty();
    }

    @Test
    void scan_reportsModelFolderLinkedOutsideRoot() throws IOException {
        Path elsewhere = Files.createDirectories(outside.resolve("stolen"));
        Files.createDirectories(elsewhere.resolve("1"));
        Files.createSymbolicLink(root.resolve("linked"), elsewhere);
        model("normal", "1");
        Map<String, ModelRepository.Source> sources = scan();
        assertThat(sources.get("linked").problem()).hasValueSatisfying(problem ->
                assertThat(problem).contains("'linked'").contains("outside the model repository"));
        assertThat(sources.get("linked").versions()).isEmpty();
        assertThat(sources.get("normal").problem()).isEmpty();
    }

    @Test
    void scan_acceptsModelFolderLinkedInsideRoot() throws IOException {
        model("real", "1");
        Files.createSymbolicLink(root.resolve("alias"), root.resolve("real"));
        Map<String, ModelRepository.Source> sources = scan();
        assertThat(sources.get("alias").problem()).isEmpty();
        assertThat(sources.get("alias").versions()).containsOnlyKeys(1L);
    }

    @Test
    void scan_reportsConfigLinkedOutsideRoot() throws IOException {
        Path dir = model("m", "1");
        Path secret = Files.writeString(outside.resolve("secret.yaml"), "labels: /etc/passwd\n");
        Files.createSymbolicLink(dir.resolve("config.yaml"), secret);
        ModelRepository.Source source = only();
        assertThat(source.configFile()).isEmpty();
        assertThat(source.problem()).hasValueSatisfying(problem ->
                assertThat(problem).contains("config.yaml").contains("'m'").contains("outside the model repository"));
    }

    @Test
    void scan_reportsConfigLinkedOutsideRootThroughRelativeLink() throws IOException {
        Path dir = model("m", "1");
        Files.writeString(outside.resolve("config.json"), "{}");
        Path relative = dir.toRealPath().relativize(outside.toRealPath().resolve("config.json"));
        Files.createSymbolicLink(dir.resolve("config.json"), relative);
        assertThat(only().problem()).hasValueSatisfying(p -> assertThat(p).contains("outside"));
    }

    @Test
    void insideRoot_isTrueForPathsUnderRoot() throws IOException {
        Path dir = model("m", "1");
        ModelRepository repository = new ModelRepository(root);
        assertThat(repository.insideRoot(dir)).isTrue();
        assertThat(repository.insideRoot(dir.resolve("1/model.onnx"))).isTrue();
        assertThat(repository.insideRoot(root)).isTrue();
    }

    @Test
    void insideRoot_isTrueForMissingPathUnderRoot() {
        ModelRepository repository = new ModelRepository(root);
        assertThat(repository.insideRoot(repository.root().resolve("missing/1/model.onnx"))).isTrue();
    }

    @Test
    void insideRoot_isFalseForPathsOutsideRoot() throws IOException {
        ModelRepository repository = new ModelRepository(root);
        Path file = Files.writeString(outside.resolve("x.onnx"), "x");
        assertThat(repository.insideRoot(file)).isFalse();
        assertThat(repository.insideRoot(repository.root().resolve("../escape/model.onnx"))).isFalse();
        assertThat(repository.insideRoot(repository.root().resolve("m/../../missing"))).isFalse();
    }

    @Test
    void insideRoot_isFalseForSiblingWithSharedPrefix() throws IOException {
        Path repo = Files.createDirectories(outside.resolve("models"));
        Path sibling = Files.createDirectories(outside.resolve("models-other"));
        ModelRepository repository = new ModelRepository(repo);
        assertThat(repository.insideRoot(sibling)).isFalse();
        assertThat(repository.insideRoot(sibling.resolve("missing"))).isFalse();
    }

    @Test
    void insideRoot_isFalseForLinkLeavingRoot() throws IOException {
        Path dir = model("m");
        Path elsewhere = Files.createDirectories(outside.resolve("v1"));
        Files.writeString(elsewhere.resolve("model.onnx"), "x");
        Files.createSymbolicLink(dir.resolve("1"), elsewhere);
        ModelRepository repository = new ModelRepository(root);
        assertThat(repository.insideRoot(dir.resolve("1").resolve("model.onnx"))).isFalse();
    }

    @Test
    void scan_resultIsUnmodifiable() throws IOException {
        model("m", "1");
        List<ModelRepository.Source> sources = new ModelRepository(root).scan();
        assertThatThrownBy(sources::clear).isInstanceOf(UnsupportedOperationException.class);
    }
}

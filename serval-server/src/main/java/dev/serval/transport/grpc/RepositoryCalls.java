package dev.serval.transport.grpc;

import dev.serval.api.ServalException;
import dev.serval.model.ModelRegistry;
import dev.serval.model.ModelStatus;
import dev.serval.protocol.grpc.ModelRepositoryParameter;
import dev.serval.protocol.grpc.RepositoryIndexRequest;
import dev.serval.protocol.grpc.RepositoryIndexResponse;
import dev.serval.protocol.grpc.RepositoryModelLoadRequest;
import dev.serval.protocol.grpc.RepositoryModelLoadResponse;
import dev.serval.protocol.grpc.RepositoryModelUnloadRequest;
import dev.serval.protocol.grpc.RepositoryModelUnloadResponse;
import java.util.Map;

/**
 * Triton's model repository extension over gRPC: RepositoryIndex, RepositoryModelLoad and
 * RepositoryModelUnload. What they do, and every failure but this wire's own fields, is the
 * registry's ({@link ModelRegistry#index}, {@link ModelRegistry#load}, {@link ModelRegistry#unload}),
 * exactly as for the REST endpoints: the same rows, the same control-mode rules, the same name
 * checks and messages, mapped to statuses by {@link GrpcErrors}. The admin token is checked
 * before a call gets here ({@link TokenInterceptor}); load and unload pass the server's gate
 * ({@link GatedCalls}), so they are refused once it shuts down.
 *
 * <p>Here only the request's own fields are checked: {@code repository_name} must be empty (one
 * repository is served), and the parameters must be ones Serval honours. Triton's load
 * parameters {@code config} and {@code file:...} (a config or model files sent with the call) are
 * refused rather than ignored: a caller who sent them would otherwise think they took effect.
 * Stateless and thread-safe; the calls block while the registry loads.
 */
final class RepositoryCalls {
    /** Triton's unload parameter; Serval loads no model along with another, so it unloads nothing more. */
    static final String UNLOAD_DEPENDENTS = "unload_dependents";

    private final ModelRegistry registry;

    RepositoryCalls(ModelRegistry registry) {
        this.registry = registry;
    }

    /** Every row of the index, or with {@code ready} only the versions that serve. */
    RepositoryIndexResponse index(RepositoryIndexRequest request) {
        requireOneRepository(request.getRepositoryName());
        RepositoryIndexResponse.Builder response = RepositoryIndexResponse.newBuilder();
        for (ModelStatus row : registry.index()) {
            if (request.getReady() && !row.isReady()) {
                continue;
            }
            response.addModelsBuilder()
                    .setName(row.name())
                    .setVersion(row.version())
                    .setState(row.state())
                    .setReason(row.reason().orElse(""));
        }
        return response.build();
    }

    /** Loads or reloads the model; returns once it serves, or fails with the reasons. */
    RepositoryModelLoadResponse load(RepositoryModelLoadRequest request) {
        requireOneRepository(request.getRepositoryName());
        String name = requireModelName(request.getModelName());
        for (String parameter : request.getParametersMap().keySet()) {
            throw ServalException.invalidArgument("load parameter '%s' is not supported: Serval loads model '%s' "
                    + "from its folder in the repository and takes no parameters (Triton's 'config' and "
                    + "'file:' overrides included)", parameter, name);
        }
        registry.load(name);
        return RepositoryModelLoadResponse.getDefaultInstance();
    }

    /** Unloads the model: requests already using it finish, new ones are refused. */
    RepositoryModelUnloadResponse unload(RepositoryModelUnloadRequest request) {
        requireOneRepository(request.getRepositoryName());
        String name = requireModelName(request.getModelName());
        for (Map.Entry<String, ModelRepositoryParameter> parameter : request.getParametersMap().entrySet()) {
            if (!parameter.getKey().equals(UNLOAD_DEPENDENTS)) {
                throw ServalException.invalidArgument("unload parameter '%s' is not supported; expected only '%s'",
                        parameter.getKey(), UNLOAD_DEPENDENTS);
            }
            if (parameter.getValue().getParameterChoiceCase() != ModelRepositoryParameter.ParameterChoiceCase.BOOL_PARAM) {
                throw ServalException.invalidArgument("unload parameter '%s' is %s; expected a bool_param",
                        UNLOAD_DEPENDENTS, describe(parameter.getValue()));
            }
        }
        registry.unload(name);
        return RepositoryModelUnloadResponse.getDefaultInstance();
    }

    private static String describe(ModelRepositoryParameter value) {
        return switch (value.getParameterChoiceCase()) {
            case BOOL_PARAM -> "bool_param " + value.getBoolParam();
            case INT64_PARAM -> "int64_param " + value.getInt64Param();
            case STRING_PARAM -> "string_param '" + value.getStringParam() + "'";
            case BYTES_PARAM -> "bytes_param of " + value.getBytesParam().size() + " bytes";
            case PARAMETERCHOICE_NOT_SET -> "unset";
        };
    }

    private static void requireOneRepository(String repositoryName) {
        if (!repositoryName.isEmpty()) {
            throw ServalException.invalidArgument("repository_name is '%s'; Serval serves one model repository: "
                    + "leave repository_name empty", repositoryName);
        }
    }

    private static String requireModelName(String name) {
        if (name.isEmpty()) {
            throw ServalException.invalidArgument("model_name is empty; expected the name of a model folder in the "
                    + "repository");
        }
        return name;
    }
}

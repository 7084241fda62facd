# The batch-llm worker image. Build from the repository root:
#   docker build -t batch-llm-worker .
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so source edits do not invalidate the npm layer.
# tsx is a runtime dependency: the worker runs TypeScript directly.
# The workspace packages' manifests too: npm ci links them from the lockfile.
COPY package.json package-lock.json ./
COPY packages/gemini-emulator/package.json ./packages/gemini-emulator/
RUN npm ci --omit=dev && npm cache clean --force

COPY tsconfig.json ./
COPY src ./src
COPY packages ./packages
COPY workflows ./workflows
COPY activities ./activities
COPY bin ./bin
COPY data ./data

# A named volume mounted here inherits this ownership, so the non-root user can write results.
RUN mkdir -p /data/results && chown node:node /data/results
ENV BATCH_LLM_RESULTS_DIR=/data/results

# The base image ships an unprivileged `node` user (uid 1000).
USER node

CMD ["node", "--import", "tsx", "src/cli/main.ts", "worker"]

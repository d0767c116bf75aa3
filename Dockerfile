# syntax=docker/dockerfile:1
# Multi-stage build: a static binary on a minimal base, run as non-root.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/sharpeyes ./cmd/sharpeyes

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sharpeyes /usr/local/bin/sharpeyes
WORKDIR /var/lib/sharpeyes
ENV SHARPEYES_DATA_DIR=/var/lib/sharpeyes
# Go's soft memory limit: about 80% of what the container may use. A node
# needs ~0.5 MiB per always-on camera stream plus ~0.25 MB per viewer
# (docs/benchmarks.md); 1.5 GiB fits 2,000 cameras. Override per deployment.
ENV GOMEMLIMIT=1536MiB
USER nonroot:nonroot
# HTTP (API, WHEP, UI, metrics), RTSP re-serve, WebRTC media (UDP mux and ICE-TCP)
EXPOSE 8080/tcp 8554/tcp 8189/udp 8189/tcp
ENTRYPOINT ["/usr/local/bin/sharpeyes"]
CMD ["serve"]

# The facefix images, built together so that the Rust workspace compiles once for all of
# them. From the repository root:
#
#   docker buildx bake -f deploy/docker-bake.hcl                   api, worker, worker-cuda
#   docker buildx bake -f deploy/docker-bake.hcl --load api worker   into the local engine
#
# The target `facefix-build` (deploy/Dockerfile.build) compiles the binary; every image
# target receives its result as the build context `facefix-build`, so one bake run builds
# it once, whatever the number of images, and waits for it before copying.
#
# Settings (environment variables of the same name):
#   FACEFIX_IMAGE_PREFIX   image names are <prefix>-api, <prefix>-worker, <prefix>-worker-cuda
#                          (the same variable as in deploy/docker-compose.yml)
#   FACEFIX_TAG            their tag
#   FACEFIX_BUILD_CACHE    a registry repository for the build cache (one tag per target);
#                          empty: the builder's local cache only
#   VERSION, REVISION, CREATED, SOURCE_URL   the images' OCI labels

variable "FACEFIX_IMAGE_PREFIX" {
  default = "facefix"
}

variable "FACEFIX_TAG" {
  default = "dev"
}

variable "FACEFIX_BUILD_CACHE" {
  default = ""
}

variable "VERSION" {
  default = "0.0.0-dev"
}

variable "REVISION" {
  default = "unknown"
}

variable "CREATED" {
  default = "unknown"
}

variable "SOURCE_URL" {
  default = ""
}

# Registry cache of one target. mode=max keeps every stage's layers (the dependency layer
# of the builder above all), and ECR stores a cache only as an OCI image manifest:
# without image-manifest=true and oci-mediatypes=true it rejects the push.
function "cache_from" {
  params = [name]
  result = FACEFIX_BUILD_CACHE == "" ? [] : ["type=registry,ref=${FACEFIX_BUILD_CACHE}:${name}"]
}

function "cache_to" {
  params = [name]
  result = FACEFIX_BUILD_CACHE == "" ? [] : ["type=registry,ref=${FACEFIX_BUILD_CACHE}:${name},mode=max,image-manifest=true,oci-mediatypes=true"]
}

group "default" {
  targets = ["image"]
}

# Not an image of its own: built because the images use it, never pushed.
target "facefix-build" {
  context    = "."
  dockerfile = "deploy/Dockerfile.build"
  target     = "binary"
  cache-from = cache_from("facefix-build")
  cache-to   = cache_to("facefix-build")
}

# The images, one target each (named api, worker, worker-cuda): deploy/Dockerfile.<name>,
# with the builder's result as the context `facefix-build`.
target "image" {
  name       = item
  matrix     = { item = ["api", "worker", "worker-cuda"] }
  context    = "."
  dockerfile = "deploy/Dockerfile.${item}"
  contexts = {
    "facefix-build" = "target:facefix-build"
  }
  args = {
    VERSION    = VERSION
    REVISION   = REVISION
    CREATED    = CREATED
    SOURCE_URL = SOURCE_URL
  }
  tags       = ["${FACEFIX_IMAGE_PREFIX}-${item}:${FACEFIX_TAG}"]
  cache-from = cache_from(item)
  cache-to   = cache_to(item)
}

/** Public surface of the image builder (wired into `hermes-admin images build` and scripts/deploy/build-images.sh). */
export {
  APP_TARGETS,
  type AppImageKind,
  BASE_REPO,
  type BuildImagesOptions,
  type BuildReport,
  type BuiltImage,
  buildImages,
  IMAGE_LABELS,
  type ImageKind,
  imageRefs,
  projectVersion,
  REPO_ROOT,
} from "./builder.js";

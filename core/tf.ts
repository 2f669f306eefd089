/**
 * The one place the project imports TensorFlow.js from, so that a single
 * tfjs-core instance is shared with whatever backend package gets loaded
 * (tfjs-node pins @tensorflow/tfjs 4.22.0 exactly; so do we).
 */
import * as tf from '@tensorflow/tfjs';
export { tf };
export type Tensor = tf.Tensor;
